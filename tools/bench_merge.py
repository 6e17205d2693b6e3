"""Merging uid-sorted runs: the staged merge (``MERGE_FAN_IN`` runs at a time) against one merge
of every run at once, in the same run, on the same files.

    .venv/bin/python tools/bench_merge.py --runs 512 --rows 10000 [--fan-in 64 128]

Writes ``--runs`` sorted runs of ``--rows`` random uids under ``--work`` (reused when there),
then times ``staged_readers`` + ``merged_blocks`` (what the subset merge and the pool rules'
duplicate check do) for each ``--fan-in`` and for a single merge of all runs (fan-in =
runs), and prints seconds and the ratio to the single merge. A benchmark: nothing asserted.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.pool.sorted_uids import MERGE_FAN_IN, merged_blocks, staged_readers  # noqa: E402
from harness.pool.uid import UID_DTYPE, sort_uid_array  # noqa: E402


def write_runs(folder: Path, runs: int, rows: int) -> list[Path]:
    """``runs`` files of ``rows`` sorted random uids in ``folder`` (kept when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:08d}.npy" for i in range(runs)]
    rng = np.random.default_rng(0)
    for path in paths:
        if not path.is_file():
            u = np.empty(rows, UID_DTYPE)
            u["f0"], u["f1"] = rng.integers(0, 2**63, rows), rng.integers(0, 2**63, rows)
            np.save(path, sort_uid_array(u))
    return paths


def timed_merge(paths: list[Path], stage: Path, fan_in: int) -> tuple[float, float, int]:
    """(staging s, final merge s, rows) of merging ``paths`` at ``fan_in``."""
    shutil.rmtree(stage, ignore_errors=True)
    t0 = time.perf_counter()
    readers = staged_readers(paths, stage, fan_in=fan_in)
    t1 = time.perf_counter()
    rows = sum(len(block) for block in merged_blocks(readers))
    t2 = time.perf_counter()
    shutil.rmtree(stage, ignore_errors=True)
    return t1 - t0, t2 - t1, rows


def main(argv=None) -> int:
    """Parse arguments, write the runs, print one line per fan-in."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=512)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--fan-in", type=int, nargs="+", default=[MERGE_FAN_IN])
    ap.add_argument("--work", type=Path, default=Path("/tmp/selbench-bench-merge"))
    args = ap.parse_args(argv)
    paths = write_runs(args.work / f"runs{args.runs}x{args.rows}", args.runs, args.rows)
    stage, _, rows = timed_merge(paths, args.work / "stage", max(2, args.runs))
    base = stage + _
    print(f"{args.runs} runs x {args.rows:,} uids: one merge of all runs: {base:.1f} s ({rows:,} rows)")
    for fan_in in args.fan_in:
        staging, final, rows = timed_merge(paths, args.work / "stage", fan_in)
        total = staging + final
        print(f"fan-in {fan_in}: {total:.1f} s (staging {staging:.1f} + final {final:.1f}); "
              f"{total / base:.3f}x the single merge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
