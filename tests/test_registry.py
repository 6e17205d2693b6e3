"""The generic Registry: decorator registration, lazy built-ins, entry points, did-you-mean."""
import sys
import types
import pytest

from harness.errors import SelbenchError
from harness.registry import Registry
from harness.select.base import STRATEGIES, Scorer, strategy


def test_register_get_and_list():
    reg = Registry("widget")

    @reg.register("alpha")
    def alpha():
        return 1

    reg.register("beta")(len)
    assert reg.get("alpha") is alpha and reg.names() == ["alpha", "beta"]
    assert reg.items() == [("alpha", alpha), ("beta", len)] and "beta" in reg and "gamma" not in reg
    reg.register("alpha")(alpha)  # registering the same object again is harmless
    with pytest.raises(SelbenchError, match="widget 'alpha' is registered twice"):
        reg.register("alpha")(len)


def test_unknown_name_lists_closest():
    reg = Registry("widget")
    for name in ("clip_score", "clipcov", "random"):
        reg.register(name)(object())
    with pytest.raises(SelbenchError, match=r"unknown widget 'clip_scre'; did you mean clip_score, "
                                            r"clipcov\? \(known: clip_score, clipcov, random\)"):
        reg.get("clip_scre")
    with pytest.raises(SelbenchError) as info:
        reg.get("zzz")
    assert "did you mean" not in str(info.value) and "\n" not in str(info.value)


def fake_distribution(site, name, group, entries: dict, module_source: dict):
    """An installed distribution as importlib.metadata sees it: a dist-info plus its modules."""
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))
    for module, source in module_source.items():
        (site / f"{module}.py").write_text(source)


def test_entry_points_are_found(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "widget_plugin", "selbench.test_widgets",
                      {"sprocket": "selbench_test_widget_plugin:Sprocket"},
                      {"selbench_test_widget_plugin": "class Sprocket:\n    pass\n"})
    monkeypatch.syspath_prepend(tmp_path)
    reg = Registry("widget", "selbench.test_widgets")
    assert reg.get("sprocket").__name__ == "Sprocket" and reg.names() == ["sprocket"]


def test_a_lookup_imports_only_the_module_it_needs(tmp_path, monkeypatch):
    host = types.ModuleType("selbench_test_registry_host")
    host.REG = Registry("widget", "selbench.test_lazy")
    monkeypatch.setitem(sys.modules, host.__name__, host)
    source = ("from selbench_test_registry_host import REG\n"
              "@REG.register('{name}')\nclass {cls}:\n    pass\n")
    fake_distribution(tmp_path, "lazy_widgets", "selbench.test_lazy",
                      {"gizmo": "selbench_test_gizmo:Gizmo", "doohickey": "selbench_test_doohickey:Doohickey"},
                      {"selbench_test_gizmo": source.format(name="gizmo", cls="Gizmo"),
                       "selbench_test_doohickey": source.format(name="doohickey", cls="Doohickey")})
    monkeypatch.syspath_prepend(tmp_path)
    reg = host.REG
    assert reg.names() == ["doohickey", "gizmo"] and "gizmo" in reg
    assert "selbench_test_gizmo" not in sys.modules  # listing names imports nothing
    assert reg.get("gizmo").__name__ == "Gizmo"
    assert "selbench_test_gizmo" in sys.modules and "selbench_test_doohickey" not in sys.modules
    assert reg.origin("gizmo") == "lazy_widgets (selbench_test_gizmo:Gizmo)"
    for module in ("selbench_test_gizmo",):
        monkeypatch.delitem(sys.modules, module)


def test_entry_point_and_decorator_must_agree(tmp_path, monkeypatch):
    host = types.ModuleType("selbench_test_registry_host2")
    host.REG = Registry("widget", "selbench.test_disagree")
    monkeypatch.setitem(sys.modules, host.__name__, host)
    fake_distribution(tmp_path, "disagree", "selbench.test_disagree",
                      {"sprocket": "selbench_test_disagree:Cog"},
                      {"selbench_test_disagree": "from selbench_test_registry_host2 import REG\n"
                                                 "@REG.register('cog')\nclass Cog:\n    pass\n"})
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(SelbenchError, match="registers itself as 'cog'"):
        host.REG.get("sprocket")
    monkeypatch.delitem(sys.modules, "selbench_test_disagree")


def test_builtins_are_declared_as_entry_points_and_harness_names_no_baseline():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"][
        "selbench.strategies"]
    modules = sorted(p.stem for p in (root / "baselines").glob("*.py")
                     if "@strategy(" in p.read_text())  # modules that define a method
    assert {v.split(":")[0] for v in declared.values()} >= {f"baselines.{m}" for m in modules}
    for name, value in declared.items():
        assert STRATEGIES.origin(name) == f"selbench ({value})"
        assert STRATEGIES.get(name).name == name
    import re

    for path in (root / "harness").rglob("*.py"):  # no import and no module name in a string
        assert not re.search(r"(import\s+baselines|from\s+baselines|[\"']baselines\.)",
                             path.read_text()), path


def test_broken_plugin_is_a_one_line_error(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "broken_plugin", "selbench.test_broken",
                      {"bad": "selbench_test_missing_module:Thing"}, {})
    monkeypatch.syspath_prepend(tmp_path)
    reg = Registry("widget", "selbench.test_broken")
    with pytest.raises(SelbenchError, match=r"cannot load widget plugin 'bad' "
                                            r"\(selbench_test_missing_module:Thing, from broken_plugin\)"):
        reg.get("bad")


def test_strategy_decorator_needs_a_version():
    from dataclasses import dataclass

    class Unversioned(Scorer):
        pass

    with pytest.raises(TypeError, match="must declare its own version"):
        strategy("unversioned")(Unversioned)
    assert "unversioned" not in STRATEGIES
    for name in STRATEGIES.names():
        assert isinstance(vars(STRATEGIES.get(name)).get("version"), str)


def test_strategy_decorator_checks_its_class():
    with pytest.raises(TypeError, match="must decorate a Scorer or SetSelector"):
        strategy("not_a_strategy")(object)

    class NoDataclass(Scorer):
        class Params:
            pass

    with pytest.raises(TypeError, match="Params must be a dataclass"):
        strategy("no_dataclass")(NoDataclass)
    assert "no_dataclass" not in STRATEGIES and "not_a_strategy" not in STRATEGIES


def test_builtin_strategies_are_registered():
    for name in ("no_filter", "random", "clip_score", "intersect", "union", "then"):
        cls = STRATEGIES.get(name)
        assert cls.name == name and cls.shape in ("scorer", "set")
