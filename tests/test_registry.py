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


def test_builtin_modules_are_imported_lazily(tmp_path, monkeypatch):
    reg = Registry("widget", builtin_modules=["selbench_test_builtin_widgets"])
    host = types.ModuleType("selbench_test_registry_host")
    host.REG = reg
    monkeypatch.setitem(sys.modules, host.__name__, host)
    (tmp_path / "selbench_test_builtin_widgets.py").write_text(
        "from selbench_test_registry_host import REG\n"
        "@REG.register('gizmo')\n"
        "class Gizmo:\n    pass\n")
    monkeypatch.syspath_prepend(tmp_path)
    assert "selbench_test_builtin_widgets" not in sys.modules
    assert reg.get("gizmo").__name__ == "Gizmo"
    assert "selbench_test_builtin_widgets" in sys.modules
    monkeypatch.delitem(sys.modules, "selbench_test_builtin_widgets")


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


def test_broken_plugin_is_a_one_line_error(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "broken_plugin", "selbench.test_broken",
                      {"bad": "selbench_test_missing_module:Thing"}, {})
    monkeypatch.syspath_prepend(tmp_path)
    reg = Registry("widget", "selbench.test_broken")
    with pytest.raises(SelbenchError, match=r"cannot load widget plugin 'bad' "
                                            r"\(selbench_test_missing_module:Thing\)"):
        reg.get("bad")


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
