"""The built wheel carries everything the CLI needs (issue 10, item 1).

Builds the wheel from a copy of the source tree (so the checkout gets no build/ folder),
installs it with ``--no-deps`` into a fresh virtual environment that sees only the
already-installed dependencies (a ``.pth`` file listing their site-packages; no network),
and runs the ``selbench`` console script of that environment from a folder outside the
checkout: ``ls scales``, ``ls tasks suite=datacomp38`` and a ``select`` on a small pool.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from pool_fixtures import make_random_pool

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                              "runs", ".pytest_cache", "tests")


def _dependency_dirs() -> list[str]:
    """The site-packages folders this interpreter imports its dependencies from."""
    import torch  # noqa: F401  (the heaviest dependency: its folder must be listed)

    dirs = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    dirs += [p for p in sys.path if p.endswith("site-packages")]
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


def _run(cmd, cwd, env, timeout=300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_wheel_installs_a_working_cli(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=SKIP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(wheels), str(src)], tmp_path, env)
    (wheel,) = wheels.glob("selbench-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    py = venv / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # dependencies only: plain path lines (the .pth files inside those folders, e.g. an
    # editable install of this checkout, are not processed for an added path)
    Path(purelib, "_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    _run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall",
          str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([py, "-c", "import harness, baselines; print(harness.__file__); "
                  "print(baselines.__file__)"], work, env).stdout.split()
    assert all(Path(p).is_relative_to(Path(purelib)) for p in where), where
    assert not any(Path(p).is_relative_to(REPO) for p in where)

    cli = str(venv / "bin" / "selbench")
    scales = _run([cli, "ls", "scales"], work, env).stdout
    for name in ("tiny", "small", "medium", "large", "xlarge"):
        assert name in scales
    tasks = _run([cli, "ls", "tasks", "suite=datacomp38"], work, env).stdout
    assert "imagenet1k" in tasks and "retrieval/mscoco_2014_5k_test_image_text_retrieval" in tasks

    pool = make_random_pool(work / "pool", n=120, shard_size=50)
    _run([cli, "select", f"pool={pool}", "strategy=clip_score", "budget.count=30",
          "out=subset.npy", "progress=false"], work, env)
    subset = np.load(work / "subset.npy", allow_pickle=False)
    assert len(subset) == 30
    manifest = json.loads((work / "subset.json").read_text())
    assert manifest["selected"] == 30 and manifest["strategy"] == "clip_score"
