"""Resharding speed: today's shard I/O (``harness.pool.shards``) against an earlier one, in one run.

    .venv/bin/python tools/bench_reshard.py                         # the test-preset pool, built in a temp dir
    .venv/bin/python tools/bench_reshard.py --pool runs/pools/tiny-seed0 --rounds 3
    .venv/bin/python tools/bench_reshard.py --baseline tarfile      # against Python's tarfile instead

``selbench train`` reshards a subset of the pool into webdataset shards before training
(``harness.train.reshard``); its cost is reading every pool tar and writing the kept
samples. This script runs that same ``reshard`` function with two shard I/O layers:

- ``new``: what the code uses now (the hardened reader with checksums, one writer);
- ``old`` (default ``--baseline git``): the reader and writer of an earlier commit
  (``--rev``, default ``6509981``, where they were ``harness/train/tario.py``), taken with
  ``git show`` into a temporary directory and imported from there;
  ``--baseline tarfile``: Python's ``tarfile`` reading and writing the same samples.

Both run alternately ``--rounds`` times on the same subset (``--fraction`` of the pool's
rows, drawn with ``--seed``), each into a fresh directory; the best time of each is
reported with samples/s and the ratio new/old. The written shards of both must be byte-
identical (checked and printed). Nothing is asserted: the target (``new`` within 1.2x of
``old``) is printed beside the measurement.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def old_tario(rev: str, where: Path):
    """The module ``harness/train/tario.py`` as it was at ``rev``, imported from ``where``."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:harness/train/tario.py"],
                            check=True, capture_output=True, text=True).stdout
    path = where / "tario_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("tario_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _TarfileWriter:
    """Python's tarfile writing the bytes selbench writes (ustar, mtime 0, mode 0644)."""

    def __init__(self, f):
        import tarfile

        self.tarfile = tarfile
        self.tf = tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT)

    def write(self, sample):
        for ext in sorted(k for k in sample if not k.startswith("__")):
            info = self.tarfile.TarInfo(f"{sample['__key__']}.{ext}")
            info.size, info.mtime, info.mode = len(sample[ext]), 0, 0o644
            info.uname = info.gname = "selbench"
            self.tf.addfile(info, io.BytesIO(sample[ext]))

    def close(self):
        self.tf.close()


def _tarfile_read(path, damage=None):
    import tarfile

    sample = None
    with tarfile.open(path) as tf:
        for m in tf:
            if not m.isreg():
                continue
            key, _, ext = m.name.rpartition(".")
            if sample is None or sample["__key__"] != key:
                if sample is not None:
                    yield sample
                sample = {"__key__": key}
            sample[ext] = tf.extractfile(m).read()
    if sample is not None:
        yield sample


@contextmanager
def io_layer(read, writer):
    """``harness.train.reshard`` with its tar reader and writer replaced for a while."""
    from harness.train import reshard as mod

    saved = mod.read_tar, mod.TarWriter
    mod.read_tar, mod.TarWriter = read, writer
    try:
        yield
    finally:
        mod.read_tar, mod.TarWriter = saved


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.tar")) + [folder / "sample_ids.npy"]:
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def timed(pool: Path, subset: Path, out: Path) -> float:
    from harness.train.reshard import reshard

    t0 = time.perf_counter()
    reshard(pool, subset, out, progress=False)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=Path, default=None, help="a pool with tars (default: build the test preset)")
    ap.add_argument("--fraction", type=float, default=1.0, help="share of the pool's rows to reshard")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", choices=("git", "tarfile"), default="git")
    ap.add_argument("--rev", default="6509981", help="commit whose harness/train/tario.py is 'old'")
    args = ap.parse_args(argv)

    from harness.pool.layout import Pool
    from harness.pool.subset import write_subset
    from harness.select.engine import pool_uids

    with tempfile.TemporaryDirectory(prefix="bench_reshard.") as tmp:
        tmp = Path(tmp)
        pool = args.pool
        if pool is None:
            from harness.synth.build import build_pool

            pool = tmp / "pool"
            print("building the test-preset pool ...", flush=True)
            build_pool(pool, preset="test", seed=0, progress=False)
        uids = pool_uids(Pool.open(pool))
        rng = np.random.default_rng(args.seed)
        keep = rng.permutation(len(uids))[:max(1, int(round(args.fraction * len(uids))))]
        subset = write_subset(tmp / "subset.npy", uids[np.sort(keep)])

        if args.baseline == "git":
            old = old_tario(args.rev, tmp)

            def old_read(path, damage=None):
                with open(path, "rb") as f:
                    yield from old.iter_samples(f)

            old_layer, label = (old_read, old.TarWriter), f"git {args.rev} (harness/train/tario.py)"
        else:
            old_layer, label = (_tarfile_read, _TarfileWriter), "Python tarfile"
        from harness.pool.shards import TarWriter, read_tar

        layers = {"new": (read_tar, TarWriter), "old": old_layer}
        best = {k: float("inf") for k in layers}
        sums = {}
        for r in range(args.rounds):
            for name in (("new", "old") if r % 2 == 0 else ("old", "new")):
                out = tmp / f"{name}{r}"
                with io_layer(*layers[name]):
                    best[name] = min(best[name], timed(pool, subset, out))
                sums[name] = digest(out)
        n = len(keep)
        print(f"pool {pool}: {len(uids)} rows; resharding {n} samples, best of {args.rounds} rounds")
        print(f"old = {label}")
        for name in ("old", "new"):
            print(f"  {name:<4} {best[name]:8.3f} s   {n / best[name]:10.0f} samples/s")
        ratio = best["new"] / best["old"]
        print(f"new / old time: {ratio:.3f} (target <= 1.2)")
        print(f"written shards byte-identical: {sums['new'] == sums['old']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
