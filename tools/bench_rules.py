"""What the pool rules cost `select`: reading the embeddings for selection with and without them.

    nice -n 19 .venv/bin/python tools/bench_rules.py [--rows 200000] [--shard-rows 50000] [--repeats 3]

Writes a synthetic pool under a temporary folder (removed at the end; ``--pool DIR`` keeps
and reuses one): ``--rows`` rows in shards of ``--shard-rows``, each a parquet of uids and
an npz of fp16 unit-norm ``l14_img``/``l14_txt`` (768-d), as DataComp releases them. Then,
in this process, one executor worker, page cache warmed by an untimed first pass, the
median of ``--repeats`` runs of:

- ``read``: what clip_score's selection does with the embeddings (``engine.score_pool``:
  every shard read, fp16 -> float32 in row blocks, f.g per row), with the rule checks
  switched off (``harness.select.embeddings.check_block`` replaced by a no-op);
- ``read+rules``: the same with the pool's value rules (finite, unit norm:
  ``harness.pool.rules.block_problem``) applied to each block as it is converted;
- ``separate``: ``PoolCheck(values=True)``, the rules as one pass of their own (uids,
  duplicates, npz headers, and every value read again and checked; what ``require_pool_rules``
  does for ``train``, and did for ``select`` before the checks moved into its reads);
- ``upfront``: ``require_pool_rules(checked_when_read=<the scorer's keys>)`` without its
  cache, as ``select`` now applies it (every rule, the values of the scorer's keys left to
  the blocks it converts).

Prints each time and the ratios against ``read`` measured in the same run:
``separate pass`` = (separate + read) / read and ``select`` = (upfront + read+rules) / read.
Nothing is asserted: this is a benchmark.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIM = 768
ARCH = "l14"


def write_pool(root: Path, rows: int, shard_rows: int, seed: int = 0) -> None:
    """A metadata-only pool (parquet + npz per shard) of unit-norm fp16 embeddings."""
    import pandas as pd

    from harness.pool.writer import write_embeddings, write_metadata

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        uids = [f"{start + i:032x}" for i in range(n)]
        arrays = {}
        for kind in ("img", "txt"):
            a = rng.standard_normal((n, DIM), dtype=np.float32)
            a /= np.linalg.norm(a, axis=1, keepdims=True)
            arrays[f"{ARCH}_{kind}"] = a
        write_metadata(root / f"{index:08d}.parquet", pd.DataFrame({"uid": uids}))
        write_embeddings(root / f"{index:08d}.npz", arrays)


def timed(fn, repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``fn`` (after one untimed call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    """Run the benchmark; print the times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--shard-rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pool", type=Path, default=None, help="keep the pool here (reused if present)")
    args = parser.parse_args(argv)

    from harness.pool.layout import Pool
    from harness.pool.rules import PoolCheck
    from harness.select import embeddings
    from harness.select.engine import build_strategy, make_context, score_pool

    tmp = None
    root = args.pool
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_rules.")
        root = Path(tmp.name) / "pool"
    try:
        if not any(root.glob("*.parquet")):
            t0 = time.perf_counter()
            write_pool(root, args.rows, args.shard_rows)
            print(f"pool: {args.rows} rows written in {time.perf_counter() - t0:.1f} s")
        pool = Pool.open(root)
        scorer = build_strategy("clip_score", {"source": "embeddings"}, make_context(pool))

        def read():
            return score_pool(scorer, pool)

        def rules(**kwargs):
            problems = list(PoolCheck(values=True, **kwargs).problems(pool))
            assert not problems, problems[:1]

        checked = embeddings.check_block
        embeddings.check_block = lambda block, shard, key, first_row=0: None
        try:
            t_read = timed(read, args.repeats)
        finally:
            embeddings.check_block = checked
        t_blocks = timed(read, args.repeats)
        t_separate = timed(rules, args.repeats)
        t_upfront = timed(lambda: rules(checked_when_read=scorer.embedding_keys()), args.repeats)
        rows, shards = pool.num_rows, len(pool.shards)
    finally:
        if tmp is not None:
            tmp.cleanup()

    print(f"rows {rows}, shards {shards}, {ARCH} {DIM}-d fp16, median of {args.repeats}")
    print(f"read (no rule checks)                    {t_read:8.3f} s")
    print(f"read+rules (values checked in blocks)    {t_blocks:8.3f} s")
    print(f"separate (rules as a pass of their own)  {t_separate:8.3f} s")
    print(f"upfront (select's, scorer's keys left)   {t_upfront:8.3f} s")
    print(f"separate pass: separate + read           {t_separate + t_read:8.3f} s   "
          f"ratio checks/no-checks {(t_separate + t_read) / t_read:.2f}")
    print(f"select: upfront + read+rules             {t_upfront + t_blocks:8.3f} s   "
          f"ratio checks/no-checks {(t_upfront + t_blocks) / t_read:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
