"""The README's "Add your own selection method" example, installed as a real entry point.

The plugin's files are read out of README.md, placed in a temporary site directory with a
``<name>-<version>.dist-info`` (METADATA + entry_points.txt: an installed distribution as
importlib.metadata sees it), and run through the real ``selbench`` command.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

from pool_fixtures import random_uids, unit_rows, write_pool
from harness.pool.subset import read_subset
from harness.pool.uid import uids_to_array

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks() -> dict[str, str]:
    """The fenced blocks of the README section, by language (toml, python, bash)."""
    text = README.read_text()
    section = text.split("## Add your own selection method", 1)[1].split("\n## ", 1)[0]
    return {lang: body for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S)}


def install_plugin(site: Path, blocks: dict[str, str]) -> dict:
    """Write the module and a dist-info for the README's pyproject; return its entry points."""
    project = tomllib.loads(blocks["toml"])["project"]
    eps = project["entry-points"]["selbench.strategies"]
    module_path = blocks["python"].splitlines()[0].lstrip("# ").split("/", 1)[1]
    (site / module_path).parent.mkdir(parents=True)
    (site / module_path).write_text(blocks["python"])
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n")
    lines = ["[selbench.strategies]"] + [f"{k} = {v}" for k, v in eps.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return eps


def selbench(args, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("selbench")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "harness.cli"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p))
    return subprocess.run(cmd + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_readme_plugin_runs_through_selbench_select(tmp_path):
    blocks = readme_blocks()
    site = tmp_path / "site"
    eps = install_plugin(site, blocks)
    (name,) = eps
    # a 10-row pool: CLIP scores from random embeddings, captions of 1..5 words
    rng = np.random.default_rng(7)
    img = unit_rows(rng.normal(size=(10, 8)))
    txt = unit_rows(img + rng.normal(size=(10, 8)))
    texts = [" ".join(["word"] * (1 + i % 5)) for i in range(10)]
    uids = random_uids(10, rng)
    pool = write_pool(tmp_path / "pool", img, txt, texts=texts, uids=uids, shard_size=4,
                      dtype=np.float32)

    command = next(line for line in blocks["bash"].replace("\\\n", " ").splitlines()
                   if " select " in line)
    args = shlex.split(command.split(" select ", 1)[1])
    assert f"strategy={name}" in args
    args = [f"pool={pool}" if a.startswith("pool=") else a for a in args]
    args = [a for a in args if not a.startswith("out=")] + ["out=sub/longcap.npy", "progress=false"]
    done = selbench(["select", *args], site, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Selected 3 of 10 rows (30.0%) of pool pool with {name}")

    # the same selection computed here: CLIP score minus 1 for captions under min_words=4 words
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    clip = (f32(img) * f32(txt)).sum(1)
    score = clip - 1.0 * (np.array([len(t.split()) for t in texts]) < 4)
    best = sorted(range(10), key=lambda i: (-score[i], uids[i]))[:3]
    expect = np.sort(uids_to_array([uids[i] for i in best]))
    assert read_subset(tmp_path / "sub" / "longcap.npy").tolist() == expect.tolist()
    manifest = json.loads((tmp_path / "sub" / "longcap.json").read_text())
    assert manifest["strategy"] == name and manifest["shape"] == "scorer"
    assert manifest["params"] == {"embedding": None, "min_words": 4, "penalty": 1.0}
