"""CLIP score at a fraction: selbench against DataComp's ``load_uids_with_clip_score``, same files.

    .venv/bin/python tools/bench_clip_score.py --pool /data/bench_pool_1m --datacomp /tmp/datacomp

``--pool``: a folder for a pool in DataComp's metadata layout (written when it holds no
parquet yet, reused otherwise): ``--rows`` rows in shards of ``--shard-rows``, each shard a
parquet (uid, url, text, original_width, original_height, clip_b32_similarity_score,
clip_l14_similarity_score as float32, computed from float32 embeddings) and an npz of fp16
``l14_img``/``l14_txt`` (768-d) as DataComp releases them. No ``pool.json``: DataComp's
pools have none.

``--datacomp``: a checkout of mlfoundations/datacomp (not vendored here). Its
``baselines.apply_filter.load_uids_with_clip_score(pool, "l14", None, f, workers)`` runs
in a child process whose import path starts at the checkout (selbench's own ``baselines``
package would otherwise shadow DataComp's). That module imports ``gcld3`` at the top for
the LAION-2B filter only; when gcld3 is not installed an empty module stands in for it
and the output says so (the CLIP-score path never calls it).

In the same run, prints: DataComp's time (the function call only, imports excluded; its
``--workers`` processes), selbench's time (``--selbench-workers``, default 1: in process) (``run_selection`` with ``strategy.datacomp_fraction=f``, ``budget=natural``,
the whole stage including writing the subset and its manifest), the ratio, the row counts,
and whether the two subsets are identical; then selbench's exact ``budget.fraction=f``
(k = round(f N) rows) and, with ``--recompute``, DataComp's rule on scores recomputed from
the fp16 embeddings (``strategy.source=embeddings``), with how many rows differ from
DataComp's subset. Nothing is asserted: this is a benchmark.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATACOMP_CHILD = r"""
import json, sys, time, types
import numpy as np
checkout, pool, fraction, workers, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, checkout)
stub = False
try:
    import gcld3  # noqa: F401
except ImportError:  # used only by DataComp's LAION-2B filter, never on the CLIP-score path
    sys.modules["gcld3"] = types.ModuleType("gcld3")
    stub = True
import baselines.apply_filter as af
assert af.__file__.startswith(checkout), af.__file__
start = time.perf_counter()
uids = af.load_uids_with_clip_score(pool, "l14", None, fraction, workers)
seconds = time.perf_counter() - start
np.save(out, np.sort(uids), allow_pickle=False)
print(json.dumps({"seconds": seconds, "rows": int(len(uids)), "gcld3_stub": stub, "module": af.__file__}))
"""


def write_datacomp_pool(root: Path, rows: int, shard_rows: int, dim: int, seed: int = 0) -> None:
    """``rows`` rows in DataComp's metadata layout (see the module docstring), under ``root``."""
    import pandas as pd

    from harness.pool.writer import shard_stem, write_embeddings, write_metadata

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(256, dim)).astype(np.float32)
    root.mkdir(parents=True, exist_ok=True)
    for s, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        img = centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, dim)).astype(np.float32)
        img /= np.linalg.norm(img, axis=1, keepdims=True)
        txt = img + rng.normal(size=(n, dim)).astype(np.float32) * rng.uniform(
            0.02, 0.12, size=(n, 1)).astype(np.float32)
        txt /= np.linalg.norm(txt, axis=1, keepdims=True)
        l14 = np.einsum("ij,ij->i", img, txt).astype(np.float32)  # DataComp: from full precision
        b32 = (l14 + rng.normal(scale=0.02, size=n)).astype(np.float32)
        raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
        uids = [f"{int(a):016x}{int(b):016x}" for a, b in raw]
        frame = pd.DataFrame({"uid": uids, "url": [f"https://example.invalid/{u}.jpg" for u in uids],
                              "text": ["a photo of something"] * n,
                              "original_width": rng.integers(100, 1000, n),
                              "original_height": rng.integers(100, 1000, n),
                              "clip_b32_similarity_score": b32, "clip_l14_similarity_score": l14})
        write_metadata(root / f"{shard_stem(s)}.parquet", frame)
        write_embeddings(root / f"{shard_stem(s)}.npz", {"l14_img": img, "l14_txt": txt},
                         dtype=np.float16)
        print(f"  wrote shard {s} ({start + n:,} of {rows:,} rows)", flush=True)


def run_datacomp(checkout: Path, pool: Path, fraction: float, workers: int, out: Path) -> dict:
    """DataComp's function in a child process; its JSON report (seconds, rows, ...)."""
    proc = subprocess.run([sys.executable, "-c", DATACOMP_CHILD, str(checkout.resolve()), str(pool),
                           repr(fraction), str(workers), str(out)],
                          capture_output=True, text=True, cwd=checkout)
    if proc.returncode != 0:
        raise SystemExit(f"DataComp's load_uids_with_clip_score failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_selbench(pool: Path, params: dict, budget, workers: int, out: Path) -> tuple[float, np.ndarray, dict]:
    """selbench's select stage; (wall seconds, the sorted subset, the manifest)."""
    from harness.pool.subset import read_subset
    from harness.select.engine import run_selection

    for p in (out, out.with_suffix(".json")):
        p.unlink(missing_ok=True)
    start = time.perf_counter()
    manifest = run_selection(pool, "clip_score", params, budget, 0, out, workers=workers, progress=False)
    seconds = time.perf_counter() - start
    return seconds, read_subset(out), manifest


def main(argv=None) -> None:
    """Parse arguments, write or reuse the pool, time both implementations, print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=Path, required=True, help="pool folder (written if it has no parquet)")
    ap.add_argument("--datacomp", type=Path, required=True, help="a checkout of mlfoundations/datacomp")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--shard-rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--fraction", type=float, default=0.3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="DataComp's num_workers (its process pool over parquet files)")
    ap.add_argument("--selbench-workers", type=int, default=1,
                    help="selbench's workers (1: in process; more: a process pool over shards)")
    ap.add_argument("--recompute", action="store_true",
                    help="also run DataComp's rule on scores recomputed from the fp16 embeddings")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness.select.budget import Budget

    if not (args.datacomp / "baselines" / "apply_filter.py").is_file():
        raise SystemExit(f"{args.datacomp}: not a DataComp checkout (no baselines/apply_filter.py)")
    if not list(args.pool.glob("*.parquet")):
        print(f"writing a {args.rows:,}-row pool in DataComp's layout to {args.pool}", flush=True)
        write_datacomp_pool(args.pool, args.rows, args.shard_rows, args.dim)
    from harness.pool.layout import Pool

    n = Pool.open(args.pool).num_rows
    f = args.fraction
    import pandas  # noqa: F401  imported before timing, as DataComp's child imports its module
    import pyarrow.dataset  # noqa: F401  before its clock starts
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dc = run_datacomp(args.datacomp, args.pool, f, args.workers, tmp / "datacomp.npy")
        dc_uids = np.load(tmp / "datacomp.npy", allow_pickle=False)
        sb_s, sb_uids, sb_m = run_selbench(args.pool, {"embedding": "l14", "datacomp_fraction": f},
                                           Budget(natural=True), args.selbench_workers, tmp / "rule.npy")
        ex_s, ex_uids, _ = run_selbench(args.pool, {"embedding": "l14"}, Budget(fraction=f),
                                        args.selbench_workers, tmp / "exact.npy")
        print(f"\npool: {args.pool} ({n:,} rows), fraction {f}, DataComp num_workers "
              f"{args.workers}, selbench workers {args.selbench_workers}")
        if dc["gcld3_stub"]:
            print("note: gcld3 is not installed; an empty module stood in for DataComp's top-level "
                  "import (only its LAION-2B filter uses it)")
        print(f"DataComp load_uids_with_clip_score: {dc['seconds']:8.3f} s  {dc['rows']:,} uids")
        print(f"selbench datacomp_fraction={f}:      {sb_s:8.3f} s  {len(sb_uids):,} uids  "
              f"(threshold {sb_m['extra']['datacomp_threshold']:.6f}, {sb_m['extra']['score_source']})")
        print(f"ratio selbench / DataComp: {sb_s / dc['seconds']:.2f}")
        same = len(sb_uids) == len(dc_uids) and bool(np.array_equal(sb_uids, dc_uids))
        print(f"subsets identical: {same}")
        missing = len(np.setdiff1d(ex_uids, dc_uids))
        print(f"selbench budget.fraction={f} (exact k = {round(f * n):,}): {ex_s:.3f} s, "
              f"{len(ex_uids):,} uids, {missing} not in DataComp's subset")
        if args.recompute:
            rc_s, rc_uids, _ = run_selbench(args.pool, {"embedding": "l14", "datacomp_fraction": f,
                                                        "source": "embeddings"},
                                            Budget(natural=True), args.selbench_workers, tmp / "recompute.npy")
            print(f"selbench rule on scores recomputed from fp16 embeddings: {rc_s:.3f} s, "
                  f"{len(rc_uids):,} uids, {len(np.setdiff1d(rc_uids, dc_uids))} not in DataComp's "
                  f"subset, {len(np.setdiff1d(dc_uids, rc_uids))} of DataComp's missing")


if __name__ == "__main__":
    main()
