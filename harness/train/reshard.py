"""Materialise a subset as webdataset shards, with DataComp's resharder semantics.

Two steps. (1) One task per input tar (``FilterTar``; ``workers`` processes, or Ray tasks
under ``executor=ray``): the tar is streamed (``harness.pool.shards``' hardened reader) and the samples
whose uid (from the sample's ``.json``) the subset lists are copied, first occurrence
only, to a part file in ``<out>.parts/``. A missing or unreadable tar is logged, counted
and listed in ``meta.json`` (and so in ``train.json``), and the rest continues; a damaged
member inside a tar is skipped, logged and counted (``damaged_tar_members``), the rest of
that tar kept. (2) The
parts are merged in shard order into the output shards, exactly as one serial pass over
the tars would write them, so the output is byte-identical whatever the number of
workers. A uid listed k times is written k times. Output: ``{:08d}.tar`` shards of at most
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
from harness.parallel import map_in_order

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


class FilterTar:
    """Per-tar work (picklable) on ``(stem, tar path or None)``: copy the listed samples to a part.

    Reads the tar with ``harness.pool.shards.read_tar`` (damaged members are skipped and
    counted) and writes ``<parts>/<stem>.tar`` (the kept samples, first occurrence of a uid,
    in tar order, keyed by their index) with its ``TarWriter``, and ``<stem>.npy`` (their
    uids). Returns ``{"stem", "kept", "unreadable", "damaged", "error"}``; ``error`` names a
    missing or unreadable tar (no part).
    """

    def __init__(self, subset: np.ndarray, parts: Path):
        unique = np.unique(subset)
        self.hi, self.lo, self.parts = unique["f0"], unique["f1"], Path(parts)

    def listed(self, pair: tuple[int, int]) -> bool:
        """True when the subset lists ``pair``."""
        h, l = np.uint64(pair[0]), np.uint64(pair[1])
        a, b = np.searchsorted(self.hi, h, "left"), np.searchsorted(self.hi, h, "right")
        i = a + np.searchsorted(self.lo[a:b], l, "left")
        return bool(i < b and self.lo[i] == l)

    def __call__(self, item) -> dict:
        stem, tar = item
        out = {"stem": stem, "kept": 0, "unreadable": 0, "damaged": 0, "error": None}
        if tar is None or not Path(tar).is_file():
            out["error"] = "missing"
            return out
        pairs: list[tuple[int, int]] = []
        damage = Damage()
        try:
            with atomic_path(self.parts / f"{stem}.tar") as tmp, open(tmp, "wb") as sink:
                writer, seen = TarWriter(sink), set()
                for sample in read_tar(tar, damage):
                    pair = _sample_uid(sample)
                    if pair is None:
                        out["unreadable"] += 1
                        continue
                    if pair in seen or not self.listed(pair):
                        continue
                    seen.add(pair)
                    body = {k: v for k, v in sample.items() if not k.startswith("__")}
                    writer.write({"__key__": f"{len(pairs):012d}", **body})
                    pairs.append(pair)
                writer.close()
        except OSError as exc:
            return {**out, "unreadable": 0, "error": f"unreadable ({exc})"}
        np.save(self.parts / f"{stem}.npy", np.array(pairs, dtype=UID_DTYPE), allow_pickle=False)
        out["kept"], out["damaged"] = len(pairs), damage.count
        return out


def _kept(parts: Path, results: list[dict], subset: np.ndarray, emitted: np.ndarray,
          progress) -> Iterator[tuple[dict, tuple[int, int]]]:
    """Yield (sample, uid) for every kept sample of the parts, in shard order, k times when
    its uid is listed k times; a uid already emitted by an earlier tar is skipped."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=sum(r["kept"] for r in results), desc="reshard", unit="sample",
                   unit_scale=True, leave=False)
    listed = _listed(subset)
    for r in results:
        if r["error"]:
            continue
        uids = np.load(parts / f"{r['stem']}.npy", allow_pickle=False).tolist()
        for sample, pair in zip(read_tar(parts / f"{r['stem']}.tar"), uids):
            if bar is not None:
                bar.update(1)
            lo, times = listed[tuple(pair)]
            if emitted[lo]:
                continue  # a uid twice in the tars: the first tar's copy is kept
            emitted[lo:lo + times] = True
            body = {k: v for k, v in sample.items() if not k.startswith("__")}
            for _ in range(times):
                yield body, tuple(pair)
    if bar is not None:
        bar.close()


def reshard(pool_dir, subset_path, out_dir, max_shard_size: int = MAX_SHARD_SIZE,
            progress: bool = True, workers: int = 1, executor: str = "local",
            ray_address: str | None = None) -> dict:
    """Write the subset's samples as shards into ``out_dir``; return (and write) ``meta.json``.

    Input tars are filtered by ``workers`` processes (``executor=local``) or Ray tasks
    (``executor=ray``, a local Ray or ``ray_address``); the output does not depend on
    either. Reuses an existing ``out_dir`` whose ``meta.json`` names the same subset
    sha256, pool fingerprint and shard size.
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
    if not any(s.tar is not None for s in pool.shards):
        raise SelbenchError(f"{pool.root}: no shard has its tar; training needs the images")
    check_subset_in_pool(pool, subset, subset_path)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    parts = out_dir.with_name(out_dir.name + ".parts")
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    try:
        items = [(s.stem, None if s.tar is None else str(s.tar)) for s in pool.shards]
        results = map_in_order(FilterTar(subset, parts), items, workers, executor, ray_address)
        failed = [{"tar": f"{r['stem']}.tar", "error": r["error"]} for r in results if r["error"]]
        for f in failed:
            log.warning("%s: %s tar %s skipped; resharding the rest", pool.root,
                        f["error"].split(" ")[0], f["tar"])
        with atomic_path(out_dir) as tmp:
            tmp.unlink()
            tmp.mkdir()
            meta = _write_shards(parts, results, subset, tmp, max_shard_size, progress)
            meta.update(key, subset=str(subset_path), pool=str(pool.root), failed_tars=failed,
                        failed_tar_count=len(failed),
                        unreadable_samples=sum(r["unreadable"] for r in results),
                        damaged_tar_members=sum(r["damaged"] for r in results))
            write_json_atomic(tmp / META, meta)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    if meta["missing_from_tars"]:
        cause = (f"download rot, or lost in the {meta['damaged_tar_members']} damaged tar part(s) "
                 "skipped" if meta["damaged_tar_members"] else "download rot")
        log.warning("%d of %d listed samples are missing from the pool's tars (%s); "
                    "recorded in %s", meta["missing_from_tars"], meta["listed"], cause, out_dir / META)
    return meta


def _write_shards(parts: Path, results: list[dict], subset: np.ndarray, out: Path,
                  max_shard_size: int, progress) -> dict:
    emitted = np.zeros(len(subset), dtype=bool)
    kept = _kept(parts, results, subset, emitted, progress)
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
            "shards": sizes,
            "num_shards": len(sizes)}


def _existing_meta(out_dir: Path) -> dict | None:
    path = out_dir / META
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
