"""Import layering: every import (module level or inside a function) points down the stage
order io/errors/registry/schemas -> pool -> synth/select/train/evaluate -> leaderboard ->
run/cli -> sweep, and ``harness`` never imports ``baselines``. The walk reads the source (``ast``),
so imports inside functions count as much as those at the top."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package (or module) -> layer; a stage may import lower layers and itself, nothing else
LAYERS = {
    "harness": 0, "harness.errors": 0, "harness.io": 0, "harness.registry": 0,
    "harness.schemas": 0, "harness.config": 0, "harness.models": 0,
    "harness.pool": 1,
    "harness.synth": 2, "harness.select": 2, "harness.train": 2, "harness.evaluate": 2,
    "baselines": 3,
    "harness.leaderboard": 4,
    "harness.run": 5, "harness.cli": 5, "harness.listing": 5,
    "harness.sweep": 6,  # plan / run cell=I / status: commands over run and listing
    "harness.multirun": 7,  # selbench run -m: sweep cells as Hydra multirun jobs
}


def unit_of(module: str) -> str:
    """The layered unit a dotted module name belongs to (its longest prefix in LAYERS)."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in LAYERS:
            return ".".join(parts[:i])
    raise KeyError(module)


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in the file, at any depth."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names
                      if (root / Path(*f"{base}.{a.name}".split("."))).is_dir()
                      or (root / Path(*f"{base}.{a.name}".split("."))).with_suffix(".py").is_file()]
    return found


def sources(root: Path = ROOT):
    return sorted([*(root / "harness").rglob("*.py"), *(root / "baselines").rglob("*.py")])


def violations(root: Path = ROOT) -> list[str]:
    """One line per import that points sideways or up (layer-0 modules may share freely)."""
    out = []
    for path in sources(root):
        here = unit_of(module_name(path, root))
        for line, target in imports_of(path, root):
            if target.split(".")[0] not in ("harness", "baselines"):
                continue
            there = unit_of(target)
            if there == here or LAYERS[there] == LAYERS[here] == 0:
                continue
            if LAYERS[there] >= LAYERS[here]:
                out.append(f"{path.relative_to(root)}:{line}: {here} (layer {LAYERS[here]}) "
                           f"imports {target} (layer {LAYERS[there]})")
    return out


def test_every_module_belongs_to_a_layer():
    for path in sources():
        unit_of(module_name(path))  # KeyError names a module the layering does not place


def test_imports_point_down_the_stage_order():
    assert violations() == []


def test_the_walk_sees_imports_inside_functions_and_sideways(tmp_path):
    for pkg in ("harness", "harness/pool", "harness/synth", "harness/select", "harness/train",
                "baselines"):
        (tmp_path / pkg).mkdir(exist_ok=True)
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "harness" / "pool" / "commands.py").write_text(
        "def build():\n    from harness.synth.build import build_pool\n    return build_pool\n")
    (tmp_path / "harness" / "select" / "engine.py").write_text("from ..train import trainer\n")
    (tmp_path / "harness" / "train" / "trainer.py").write_text("import harness.pool\n")
    (tmp_path / "harness" / "synth" / "build.py").write_text("from harness import pool\n")
    (tmp_path / "harness" / "io.py").write_text("def f():\n    import baselines.x\n")
    found = violations(tmp_path)
    assert sorted({v.split(":")[0] for v in found}) == [
        "harness/io.py", "harness/pool/commands.py", "harness/select/engine.py"]
    assert any("imports harness.synth.build (layer 2)" in v for v in found)
    assert any("harness.select (layer 2) imports harness.train (layer 2)" in v for v in found)


def test_helpers_need_no_pythonpath_beyond_tests():
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert options.get("pythonpath", []) == ["tests"]
    # fixtures live in conftest.py files, so no test module imports one by name
    import re

    for path in (ROOT / "tests").rglob("test_*.py"):
        assert not re.search(r"^from \w+ import .*noqa: F401", path.read_text(), re.M), path
