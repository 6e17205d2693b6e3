"""Per-shard sorted score runs: a global top-k with O(shards) state on the driver.

Every shard's scorer task writes its rows in *selection order* (score descending, ties by
uid ascending: the order ``top_k_mask`` keeps rows in) as three aligned column files in
the work folder, then a small JSON summary that marks the shard as finished:

    <stem>.key.npy   the negated scores, ascending (float32, or float64 if scored so)
    <stem>.hi.npy    the uid's first 64 bits (``f0``), same order
    <stem>.lo.npy    the uid's last 64 bits (``f1``), same order
    <stem>.json      {"rows", "min", "max"}

The top ``k`` of the pool are the first ``k`` rows of the merge of these runs, so each
shard keeps a prefix of its run. ``ScoreRuns.cut`` finds where: the k-th key by bisection
over the float's bit pattern, then (only when the k-th value is tied across the cut) the
uid by bisection over its two halves; each step sums ``np.searchsorted`` counts over
memory-mapped runs, so the driver holds a few numbers per shard and never a row array.
Each shard then writes its kept uids sorted (``write_kept``) and ``merge_sorted`` merges
those sorted runs block by block into the subset ``.npy``, the same bytes ``np.save``
writes for the sorted array.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.errors import SelbenchError
from harness.io import atomic_path, write_json_atomic
from harness.pool.sorted_uids import MERGE_ROWS, merge_to_npy
from harness.pool.uid import UID_DTYPE, sort_uid_array

U64_MAX = (1 << 64) - 1


# ----- writing a run (worker side) -----------------------------------------------------------
def run_done(folder: Path, stem: str) -> bool:
    """True when ``stem``'s run in ``folder`` is complete (its summary JSON is readable)."""
    try:
        return isinstance(json.loads((Path(folder) / f"{stem}.json").read_text()), dict)
    except (OSError, json.JSONDecodeError):
        return False


def write_run(folder: Path, stem: str, scores: np.ndarray, uids: np.ndarray) -> dict:
    """Write ``stem``'s rows sorted in selection order (score desc, uid asc); return its summary.

    ``scores`` are float32 or float64 (kept as given: the order must be the one the scores
    define), ``uids`` the shard's ``u8,u8`` array. Each file is written atomically and the
    summary last, so a killed task leaves no half-finished run that looks finished.
    """
    folder = Path(folder)
    scores = np.asarray(scores)
    if scores.dtype not in (np.float32, np.float64):
        raise SelbenchError(f"{stem}: scores must be float32 or float64, got {scores.dtype}")
    key = -scores
    order = np.lexsort((uids["f1"], uids["f0"], key))
    for name, arr in (("key", key[order]), ("hi", uids["f0"][order]), ("lo", uids["f1"][order])):
        with atomic_path(folder / f"{stem}.{name}.npy", suffix=".npy") as tmp:
            np.save(tmp, np.ascontiguousarray(arr), allow_pickle=False)
    summary = {"rows": int(len(scores)), "dtype": str(scores.dtype),
               "min": float(scores.min()) if len(scores) else None,
               "max": float(scores.max()) if len(scores) else None}
    write_json_atomic(folder / f"{stem}.json", summary)
    return summary


def write_kept(folder: Path, stem: str, count: int, kept_folder: Path) -> int:
    """Write the first ``count`` uids of ``stem``'s run, sorted by uid, to ``kept_folder/<stem>.npy``."""
    folder, kept_folder = Path(folder), Path(kept_folder)
    hi = np.load(folder / f"{stem}.hi.npy", mmap_mode="r", allow_pickle=False)[:count]
    lo = np.load(folder / f"{stem}.lo.npy", mmap_mode="r", allow_pickle=False)[:count]
    kept = np.empty(count, dtype=UID_DTYPE)
    kept["f0"], kept["f1"] = hi, lo
    with atomic_path(kept_folder / f"{stem}.npy", suffix=".npy") as tmp:
        np.save(tmp, sort_uid_array(kept), allow_pickle=False)
    return int(count)


class KeepTask:
    """Picklable per-shard job: ``(stem, count)`` -> that shard's kept uids written sorted."""

    def __init__(self, folder: Path, kept_folder: Path):
        self.folder, self.kept_folder = Path(folder), Path(kept_folder)

    def __call__(self, item) -> int:
        stem, count = item
        return write_kept(self.folder, stem, int(count), self.kept_folder)


# ----- the cut (driver side) -------------------------------------------------------------------
def _ordered(value, dtype) -> int:
    """The float as an unsigned integer whose order is the float's order (finite values)."""
    bits = np.asarray(value, dtype=dtype).view(np.uint32 if np.dtype(dtype).itemsize == 4 else np.uint64)
    width = 8 * np.dtype(dtype).itemsize
    b = int(bits)
    return (~b & ((1 << width) - 1)) if b >> (width - 1) else b | (1 << (width - 1))


def _float(ordered: int, dtype):
    """Inverse of ``_ordered``."""
    width = 8 * np.dtype(dtype).itemsize
    b = ordered & ~(1 << (width - 1)) if ordered >> (width - 1) else ~ordered & ((1 << width) - 1)
    uint = np.uint32 if width == 32 else np.uint64
    return np.asarray(b, dtype=uint).view(dtype)[()]


class ScoreRuns:
    """The finished runs of ``stems`` in ``folder``; counts and cuts over them.

    A run's column is memory-mapped only for the count that reads it and unmapped after,
    so the pages a bisection touches do not stay in this process's resident memory and a
    pool of any number of shards holds one mapping at a time.
    """

    def __init__(self, folder: Path, stems: Sequence[str]):
        self.folder, self.stems = Path(folder), list(stems)
        self.summaries = [json.loads((self.folder / f"{s}.json").read_text()) for s in self.stems]
        dtypes = {s["dtype"] for s in self.summaries}
        if len(dtypes) > 1:
            raise SelbenchError(f"{folder}: runs mix score dtypes {sorted(dtypes)}")
        self.dtype = np.dtype(dtypes.pop() if dtypes else "float32")
        self._offsets: dict[tuple[int, str], int] = {}  # (run, column) -> data offset in its .npy

    def column(self, i: int, name: str) -> np.ndarray:
        """Run ``i``'s column ``name`` (``key``, ``hi`` or ``lo``), mapped for one use."""
        rows = int(self.summaries[i]["rows"])
        dtype = self.dtype if name == "key" else np.dtype(np.uint64)
        if rows == 0:
            return np.empty(0, dtype)
        path = self.folder / f"{self.stems[i]}.{name}.npy"
        offset = self._offsets.get((i, name))
        if offset is None:  # the header is read once; later uses map the data directly
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.shape != (rows,) or arr.dtype != dtype:
                raise SelbenchError(f"{path}: {arr.dtype} {arr.shape}, expected {dtype} ({rows},)")
            self._offsets[(i, name)] = int(arr.offset)
            return arr
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(rows,))

    @property
    def rows(self) -> int:
        """Rows over all runs."""
        return sum(s["rows"] for s in self.summaries)

    def score_range(self) -> tuple[float, float]:
        """(min, max) score over all runs (from the summaries)."""
        mins = [s["min"] for s in self.summaries if s["rows"]]
        maxs = [s["max"] for s in self.summaries if s["rows"]]
        return min(mins), max(maxs)

    def _key(self, score: float):
        return self.dtype.type(-self.dtype.type(score))

    def count_key(self, t, side: str) -> int:
        """Rows whose key is ``< t`` (side left) or ``<= t`` (side right)."""
        return sum(int(np.searchsorted(self.column(i, "key"), t, side))
                   for i in range(len(self.stems)))

    def kth_key(self, k: int):
        """The k-th smallest key (1-based): the k-th highest score, negated."""
        lo, hi = self.score_range()
        a, b = _ordered(self._key(hi), self.dtype), _ordered(self._key(lo), self.dtype)
        while a < b:  # smallest ordered value whose count_key(<=) reaches k
            mid = (a + b) // 2
            if self.count_key(_float(mid, self.dtype), "right") >= k:
                b = mid
            else:
                a = mid + 1
        return _float(a, self.dtype)

    def kth_score(self, k: int) -> float:
        """The k-th highest score over all runs (1-based), as a Python float."""
        return float(-self.kth_key(k))

    def cut(self, k: int) -> tuple:
        """``(key, hi, lo)``: the k-th row in selection order; rows ``<=`` it are the top k."""
        if not 1 <= k <= self.rows:
            raise SelbenchError(f"cannot keep {k} of {self.rows} rows")
        t = self.kth_key(k)
        ranges = []
        for i in range(len(self.stems)):
            key = self.column(i, "key")
            ranges.append((int(np.searchsorted(key, t, "left")), int(np.searchsorted(key, t, "right"))))
        need = k - sum(a for a, _ in ranges)
        if need == sum(b - a for a, b in ranges):
            return t, U64_MAX, U64_MAX  # every row tied at the k-th value is kept
        tied = [(i, a, b) for i, (a, b) in enumerate(ranges) if b > a]
        h = _bisect_u64(lambda v: sum(int(np.searchsorted(self.column(i, "hi")[a:b], np.uint64(v), "right"))
                                      for i, a, b in tied), need)
        sub = []
        for i, a, b in tied:
            seg = self.column(i, "hi")[a:b]
            sub.append((i, a + int(np.searchsorted(seg, np.uint64(h), "left")),
                        a + int(np.searchsorted(seg, np.uint64(h), "right"))))
        need -= sum(c - a for (_, a, _), (_, c, _) in zip(tied, sub))
        lo = _bisect_u64(lambda v: sum(int(np.searchsorted(self.column(i, "lo")[c:d], np.uint64(v), "right"))
                                       for i, c, d in sub), need)
        return t, h, lo

    def prefix_counts(self, cut: tuple) -> list[int]:
        """Per run, how many of its first rows are ``<=`` the cut ``(key, hi, lo)``."""
        t, h, lo = cut
        counts = []
        for i in range(len(self.stems)):
            key = self.column(i, "key")
            a, b = int(np.searchsorted(key, t, "left")), int(np.searchsorted(key, t, "right"))
            if a == b:
                counts.append(a)
                continue
            his = self.column(i, "hi")[a:b]
            c = a + int(np.searchsorted(his, np.uint64(h), "left"))
            d = a + int(np.searchsorted(his, np.uint64(h), "right"))
            counts.append(c + int(np.searchsorted(self.column(i, "lo")[c:d], np.uint64(lo), "right")))
        return counts

    def threshold_counts(self, threshold: float) -> list[int]:
        """Per run, rows scoring ``>= threshold`` (compared in the scores' dtype, as numpy does)."""
        t = self._key(threshold)
        return [int(np.searchsorted(self.column(i, "key"), t, "right")) for i in range(len(self.stems))]


def _bisect_u64(count, need: int) -> int:
    """Smallest v in [0, 2**64) with ``count(v) >= need`` (count non-decreasing)."""
    a, b = 0, U64_MAX
    while a < b:
        mid = (a + b) // 2
        if count(mid) >= need:
            b = mid
        else:
            a = mid + 1
    return a


# ----- the merge (driver side, bounded memory) --------------------------------------------
def merge_sorted(paths: Sequence[Path], out: Path, block_rows: int = MERGE_ROWS,
                 stage: Path | None = None) -> int:
    """Merge uid-sorted ``u8,u8`` ``.npy`` runs into one sorted ``.npy`` at ``out``; return rows.

    Holds at most about ``block_rows`` rows at a time (split over the runs) and maps no
    file (``harness.pool.sorted_uids``), so neither the runs nor the output count in this
    process's resident memory; the file is byte-identical to ``np.save`` of the sorted
    concatenation. Over ``MERGE_FAN_IN`` runs are merged in groups into runs under ``stage`` first.
    """
    return merge_to_npy(paths, out, block_rows, stage)


def remove_tree(folder: Path) -> None:
    """Remove a work folder and everything in it (no error if absent)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    if Path(folder).exists():  # pragma: no cover - a file system that refused
        os.replace(folder, Path(folder).with_name(Path(folder).name + ".stale"))
