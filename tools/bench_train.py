"""Overhead of ``selbench train`` over open_clip_train run directly, in the same run.

    .venv/bin/python tools/bench_train.py [--pool DIR] [--repeats 2] [--samples-seen N]

Both sides train the tiny scale on the same resharded shards with the same open_clip
arguments (``harness.train.flags.openclip_argv``): the baseline is ``open_clip_train.main``
in a fresh interpreter that only registers selbench's model configs (open_clip cannot find
``selbench-tiny`` otherwise); the other side is the ``selbench train`` command line (config
composition, input checks, child process, log following, checkpoint publication and
hashing). Runs alternate to spread machine-load drift over both sides. Samples/s is
samples seen over the whole command's wall time. Without ``--pool`` a ``test``-preset
embedded pool is built in a temporary directory (harness.synth.build).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = ("import sys; from harness.models import register_model_configs; "
            "register_model_configs(); from open_clip_train.main import main; main(sys.argv[1:])")


def _pool(args, tmp: Path) -> Path:
    if args.pool:
        return Path(args.pool)
    from harness.synth.build import build_pool

    build_pool(tmp / "pool", preset="test", seed=0, progress=False)
    return tmp / "pool"


def _subset(pool: Path, tmp: Path) -> Path:
    import numpy as np

    from harness.pool.layout import Pool
    from harness.pool.subset import write_subset

    uids = np.concatenate([s.uids for s in Pool.open(pool).iter_shards()])
    return write_subset(tmp / "all.npy", uids)


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    """Run the comparison and print the table; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", help="pool with tar shards (default: build a test-preset pool)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--samples-seen", type=int, default=None, help="override tiny's samples seen")
    args = ap.parse_args()
    import torch

    from harness.train.flags import openclip_argv
    from harness.train.reshard import reshard
    from harness.train.scales import apply_overrides, load_scale, samples_seen_exact

    scale = load_scale("tiny")
    extra = []
    if args.samples_seen:
        scale = apply_overrides(scale, {"samples_seen": args.samples_seen})
        extra = [f"scale.samples_seen={args.samples_seen}"]
    seen = samples_seen_exact(scale, scale["workers"])
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pool = _pool(args, tmp)
        subset = _subset(pool, tmp)
        rows = {"open_clip_train.main (direct)": [], "selbench train": []}
        t_reshard = None
        for r in range(args.repeats):
            out = tmp / f"sel{r}"
            t0 = time.perf_counter()
            meta = reshard(pool, subset, out / "shards", progress=False)
            t_reshard = t_reshard or time.perf_counter() - t0
            direct = tmp / f"direct{r}"
            argv = openclip_argv(scale, (out / "shards").resolve(), meta["num_shards"], direct,
                                 0, 1, "cpu", "fp32", scale["workers"])
            rows["open_clip_train.main (direct)"].append(
                _timed([sys.executable, "-c", BASELINE, *argv]))
            rows["selbench train"].append(_timed(
                [sys.executable, "-m", "harness.cli", "train", f"pool={pool}", f"subset={subset}",
                 f"out={out}", "progress=false", f"threads={threads}", *extra]))
    base = statistics.median(rows["open_clip_train.main (direct)"])
    print(f"tiny scale: {seen} samples seen, {threads} threads, pool {pool}, "
          f"{meta['written']} samples in {meta['num_shards']} shards (reshard {t_reshard:.1f} s, "
          f"done before timing)")
    print(f"{'command':<32}{'median s':>10}{'samples/s':>11}{'ratio':>8}  runs (s)")
    for name, times in rows.items():
        med = statistics.median(times)
        print(f"{name:<32}{med:>10.1f}{seen / med:>11.1f}{med / base:>8.3f}  "
              + ", ".join(f"{t:.1f}" for t in times))
    print(f"overhead of selbench train: {100 * (statistics.median(rows['selbench train']) / base - 1):+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
