"""Materialise a subset as webdataset shards, with DataComp's resharder semantics.

The pool's tars are streamed in shard order (``harness.pool.shards``); a sample is kept
when its uid (from the sample's ``.json``) is in the subset (a dict lookup built from the
sorted subset); a uid listed k times is written k times. Output: ``{:08d}.tar`` shards of at most
``max_shard_size`` samples, ``sample_ids.npy`` (uids in output order), ``sizes.json``
(samples per shard, read by open_clip), ``missing_uids.npy`` and ``meta.json`` (counts).
Subset uids absent from the pool's metadata are bad input (an error); uids in the
metadata whose images are absent from the tars (download rot) are warned about, counted
and recorded. The directory appears atomically, so an interrupted reshard is redone.
"""
from __future__ import annotations

import itertools
import json
import logging
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from harness.errors import SelbenchError
from harness.io import atomic_path, sha256_file, write_json_atomic
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.pool.uid import UID_DTYPE, array_to_uids, uid_to_pair
from harness.pool.shards import Damage, TarWriter, read_tar
from harness.pool.writer import shard_stem

log = logging.getLogger(__name__)
MAX_SHARD_SIZE = 10_000
META = "meta.json"


def check_subset_in_pool(pool: Pool, subset: np.ndarray, subset_path: Path) -> None:
    """Raise naming the first subset uid that the pool's metadata does not hold."""
    unique = np.unique(subset)
    found = np.zeros(len(unique), dtype=bool)
    for shard in pool.iter_shards():
        idx = np.searchsorted(unique, shard.uids)
        ok = idx < len(unique)
        ok[ok] = unique[idx[ok]] == shard.uids[ok]
        found[idx[ok]] = True
    if not found.all():
        first = array_to_uids(unique[~found][:1])[0]
        raise SelbenchError(f"{subset_path}: {int((~found).sum())} uid(s) are not in pool "
                            f"{pool.root}, e.g. {first}")


def _sample_uid(sample: dict) -> tuple[int, int] | None:
    try:
        return uid_to_pair(json.loads(sample["json"])["uid"])
    except (KeyError, ValueError, TypeError, SelbenchError):
        return None


def _listed(subset: np.ndarray) -> dict[tuple[int, int], tuple[int, int]]:
    """Map each uid of the sorted subset to (first index in subset, times listed)."""
    unique, first, counts = np.unique(subset, return_index=True, return_counts=True)
    return {(int(u[0]), int(u[1])): (int(i), int(c)) for u, i, c in zip(unique, first, counts)}


def _kept(pool: Pool, subset: np.ndarray, emitted: np.ndarray, counters: dict,
          progress) -> Iterator[tuple[dict, tuple[int, int]]]:
    """Yield (sample, uid) for every kept sample, k times when its uid is listed k times."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=pool.num_rows, desc="reshard", unit="sample", unit_scale=True, leave=False)
    listed = _listed(subset)
    for shard in pool.shards:
        for sample in read_tar(shard.tar, counters["damage"]):
            if bar is not None:
                bar.update(1)
            pair = _sample_uid(sample)
            if pair is None:
                counters["unreadable"] += 1
                continue
            lo, times = listed.get(pair, (0, 0))
            if not times or emitted[lo]:
                continue  # not listed, or already emitted (a uid twice in the tars)
            emitted[lo:lo + times] = True
            body = {k: v for k, v in sample.items() if not k.startswith("__")}
            for _ in range(times):
                yield body, pair
    if bar is not None:
        bar.close()


def reshard(pool_dir, subset_path, out_dir, max_shard_size: int = MAX_SHARD_SIZE,
            progress: bool = True) -> dict:
    """Write the subset's samples as shards into ``out_dir``; return (and write) ``meta.json``.

    Reuses an existing ``out_dir`` whose ``meta.json`` names the same subset sha256, pool
    fingerprint and shard size.
    """
    pool = Pool.open(pool_dir)
    subset_path, out_dir = Path(subset_path), Path(out_dir)
    if max_shard_size < 1:
        raise SelbenchError(f"max_shard_size must be >= 1, got {max_shard_size}")
    subset = read_subset(subset_path)
    sha = sha256_file(subset_path)
    key = {"subset_sha256": sha, "pool_fingerprint": pool.fingerprint, "max_shard_size": max_shard_size}
    done = _existing_meta(out_dir)
    if done is not None and all(done.get(k) == v for k, v in key.items()):
        return done
    if len(subset) == 0:
        raise SelbenchError(f"{subset_path}: subset is empty")
    if not pool.has_tars:
        missing = next(s.stem for s in pool.shards if s.tar is None)
        raise SelbenchError(f"{pool.root}: shard {missing} has no tar; training needs the images")
    check_subset_in_pool(pool, subset, subset_path)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.unlink()
        tmp.mkdir()
        meta = _write_shards(pool, subset, tmp, max_shard_size, progress)
        meta.update(key, subset=str(subset_path), pool=str(pool.root))
        write_json_atomic(tmp / META, meta)
    if meta["missing_from_tars"]:
        log.warning("%d of %d listed samples are missing from the pool's tars (download rot); "
                    "recorded in %s", meta["missing_from_tars"], meta["listed"], out_dir / META)
    return meta


def _write_shards(pool: Pool, subset: np.ndarray, out: Path, max_shard_size: int,
                  progress) -> dict:
    emitted = np.zeros(len(subset), dtype=bool)
    counters = {"unreadable": 0, "damage": Damage()}
    kept = _kept(pool, subset, emitted, counters, progress)
    ids, sizes = [], {}
    for s in itertools.count():
        chunk = list(itertools.islice(kept, max_shard_size))
        if not chunk:
            break
        name = f"{shard_stem(s)}.tar"
        with open(out / name, "wb") as f:
            writer = TarWriter(f)
            for body, pair in chunk:
                writer.write({"__key__": f"{len(ids):012d}", **body})
                ids.append(pair)
            writer.close()
        sizes[name] = len(chunk)
    sample_ids = np.array(ids, dtype=UID_DTYPE)
    np.save(out / "sample_ids.npy", sample_ids, allow_pickle=False)
    missing = subset[~emitted]
    np.save(out / "missing_uids.npy", missing, allow_pickle=False)
    (out / "sizes.json").write_text(json.dumps(sizes, indent=2, sort_keys=True) + "\n")
    return {"listed": int(len(subset)), "unique_listed": int(len(np.unique(subset))),
            "written": int(len(sample_ids)), "missing_from_tars": int(len(missing)),
            "unreadable_samples": counters["unreadable"],
            "damaged_tar_members": counters["damage"].count, "shards": sizes,
            "num_shards": len(sizes)}


def _existing_meta(out_dir: Path) -> dict | None:
    path = out_dir / META
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
