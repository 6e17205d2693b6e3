"""Overhead of ``selbench train`` over open_clip_train run directly, in the same run.

    .venv/bin/python tools/bench_train.py [--pool DIR] [--repeats 2] [--samples-seen N]

All rows train the tiny scale on the same resharded shards with the same open_clip
arguments (``harness.train.flags.openclip_argv``), each in a fresh interpreter:

- ``open_clip_train.main (torch defaults)``: as a user would run it directly (selbench's
  model configs registered, since open_clip cannot find ``selbench-tiny`` otherwise);
  torch's default thread count and AdamW implementation;
- ``open_clip_train.main (same setup)``: the same, plus the two things selbench's training
  child sets up on a CPU: the torch thread count (``entry.cpu_threads``) and the fused
  AdamW (``harness.train.optimizer``). The harness's overhead is measured against this row;
- ``selbench train``: the command line (config composition, input checks, child process,
  log following, checkpoint publication and hashing).

Runs alternate to spread machine-load drift over all rows. Samples/s is
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
SAME_SETUP = ("import sys, torch; torch.set_num_threads({threads}); "
              "from harness.train.optimizer import use_fused_adamw; use_fused_adamw(); " + BASELINE)


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

    from harness.train.entry import cpu_threads
    from harness.train.flags import openclip_argv
    from harness.train.reshard import reshard
    from harness.train.scales import apply_overrides, load_scale, samples_seen_exact

    scale = load_scale("tiny")
    extra = []
    if args.samples_seen:
        scale = apply_overrides(scale, {"samples_seen": args.samples_seen})
        extra = [f"scale.samples_seen={args.samples_seen}"]
    seen = samples_seen_exact(scale, scale["workers"])
    threads = cpu_threads(int(scale["workers"]))
    names = ("open_clip_train.main (torch defaults)", "open_clip_train.main (same setup)",
             "selbench train")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pool = _pool(args, tmp)
        subset = _subset(pool, tmp)
        rows = {name: [] for name in names}
        t_reshard = None
        for r in range(args.repeats):
            out = tmp / f"sel{r}"
            t0 = time.perf_counter()
            meta = reshard(pool, subset, out / "shards", progress=False)
            t_reshard = t_reshard or time.perf_counter() - t0
            for name, code in zip(names[:2], (BASELINE, SAME_SETUP.format(threads=threads))):
                argv = openclip_argv(scale, (out / "shards").resolve(), meta["num_shards"],
                                     tmp / f"direct{r}-{len(rows[name])}-{names.index(name)}",
                                     0, 1, "cpu", "fp32", scale["workers"])
                rows[name].append(_timed([sys.executable, "-c", code, *argv]))
            rows["selbench train"].append(_timed(
                [sys.executable, "-m", "harness.cli", "train", f"pool={pool}", f"subset={subset}",
                 f"out={out}", "progress=false", f"threads={threads}", *extra]))
    _report(rows, names, seen, threads, torch.get_num_threads(), pool, meta, t_reshard)
    return 0


def _report(rows, names, seen, threads, default_threads, pool, meta, t_reshard) -> None:
    same = statistics.median(rows[names[1]])
    print(f"tiny scale: {seen} samples seen, pool {pool}, {meta['written']} samples in "
          f"{meta['num_shards']} shards (reshard {t_reshard:.1f} s, done before timing); "
          f"torch threads: {default_threads} by default, {threads} in selbench's setup")
    print(f"{'command':<40}{'median s':>10}{'samples/s':>11}{'ratio':>8}  runs (s)")
    for name in names:
        med = statistics.median(rows[name])
        print(f"{name:<40}{med:>10.1f}{seen / med:>11.1f}{med / same:>8.3f}  "
              + ", ".join(f"{t:.1f}" for t in rows[name]))
    sel = statistics.median(rows["selbench train"])
    print(f"overhead of selbench train over the same setup run directly: {100 * (sel / same - 1):+.1f}%")
    print(f"selbench train against open_clip_train with torch defaults: "
          f"{statistics.median(rows[names[0]]) / sel:.2f}x faster")


if __name__ == "__main__":
    sys.exit(main())
