"""`selbench run` killed with SIGKILL in every stage, then rerun: its outputs equal an
uninterrupted run's, byte for byte (subset, shards, checkpoints, results, leaderboard)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_run import FAST

CELL = Path("runs") / "clip_score" / "budget-0.3" / "seed0"

# (stage, marker): the run is killed as soon as marker(out) is true
STAGES = [
    ("selection", lambda out: (out / CELL).is_dir()),
    ("resharding", lambda out: any((out / CELL / "train").glob(".shards.*.tmp"))),
    ("training", lambda out: _complete(out / CELL / "train" / "open_clip" / "checkpoints" / "epoch_2.pt")),
    ("evaluation", lambda out: _lines(out / CELL / "eval" / "eval_results.jsonl") >= 2),
    ("leaderboard", lambda out: any(out.glob(".leaderboard.staging.*"))),
]


def _complete(path: Path) -> bool:
    from harness.train.checkpoints import is_complete

    return path.is_file() and is_complete(path)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def _args(pool: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "run", f"pool={pool}", f"out={out}",
            "strategies=[clip_score]", *FAST]


def _kill_at(args: list[str], out: Path, marker) -> bool:
    """Run ``args``; SIGKILL its process group when ``marker(out)``; True if it was killed."""
    child = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while child.poll() is None and not marker(out) and time.time() < deadline:
        time.sleep(0.002)
    killed = child.poll() is None
    if killed:
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return killed


def _outputs(out: Path) -> dict[str, bytes]:
    """The files whose bytes must not depend on kills (logs, timings and locks excluded)."""
    cell = out / CELL
    files = {"subset.npy": cell / "subset.npy", "eval_results.jsonl": cell / "eval" / "eval_results.jsonl",
             "checkpoint.pt": cell / "train" / "checkpoint.pt"}
    for path in sorted((cell / "train" / "open_clip" / "checkpoints").glob("epoch_*.pt")):
        files[path.name] = path
    for path in sorted((cell / "train" / "shards").iterdir()):
        if path.name != "meta.json":  # meta.json records the subset's path
            files[f"shards/{path.name}"] = path
    for name in ("leaderboard.csv", "leaderboard_summary.csv", "leaderboard_tasks.csv", "leaderboard.md"):
        files[name] = out / "leaderboard" / name
    got = {k: p.read_bytes() for k, p in files.items()}
    manifest = json.loads((cell / "subset.json").read_text())
    for key in ("wall_time_s", "pool"):  # timing, and the pool's path
        manifest.pop(key, None)
    got["subset.json"] = json.dumps(manifest, sort_keys=True).encode()
    return got


@pytest.mark.slow
def test_run_killed_in_every_stage_equals_uninterrupted(test_pool, tmp_path):
    pool, _ = test_pool
    reference = tmp_path / "reference"
    assert subprocess.run(_args(pool, reference), capture_output=True).returncode == 0
    out = tmp_path / "killed"
    args = _args(pool, out)
    killed = [stage for stage, marker in STAGES if _kill_at(args, out, marker)]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"killed in: {killed}")
    assert len(killed) >= 4, killed  # selection can finish between two polls
    a, b = _outputs(reference), _outputs(out)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, f"after kills in {killed}: {differ} differ"
    assert not list((out / CELL / "train").glob(".shards.*.tmp"))
    assert not list(out.glob(".leaderboard.staging.*"))  # the killed build's, removed by the rerun
