"""Uid-sorted ``u8,u8`` ``.npy`` runs read by row ranges and merged in bounded memory.

Used where a pool-wide sorted uid stream is needed without holding the pool's uids in one
process: the subset file merged from per-shard kept uids (``harness.select.runs``) and the
pool-wide duplicate-uid check (``harness.pool.rules``). Files are read with plain file I/O,
never memory-mapped, so what was read leaves this process's resident memory with the block.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from harness.errors import SelbenchError
from harness.pool.uid import UID_DTYPE, sort_uid_array

MERGE_ROWS = 1 << 18  # rows held at once by a merge, over all runs together (4 MiB of uids)
# runs merged at once; more are first merged in groups (``staged_readers``). A merge step reads
# MERGE_ROWS / fan-in rows a run and its cost per row grows with the runs it scans, so wide merges
# are slow: 1,280 runs of 10k uids took 476 s in one merge, 5.9 s at fan-in 64 (3.7 s staging +
# 2.2 s), 9.7 s at 128, 26.9 s at 256 (tools/bench_merge.py)
MERGE_FAN_IN = 64


class UidReader:
    """A ``u8,u8`` ``.npy`` file read by row ranges (its header checked on opening). The file
    is opened for each read, so a merge of many runs holds no open file between reads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            try:
                major, _ = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if major == 1
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(f)
            except ValueError as exc:
                raise SelbenchError(f"{self.path}: not a .npy file ({exc})") from None
            self.offset = f.tell()
        if dtype != UID_DTYPE or len(shape) != 1 or fortran:
            raise SelbenchError(f"{self.path}: expected a 1-D {UID_DTYPE} array, got {dtype} {shape}")
        self.rows = int(shape[0])

    def read(self, start: int, count: int) -> np.ndarray:
        """Rows ``start`` to ``start + count`` (fewer at the end)."""
        count = max(0, min(count, self.rows - start))
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * UID_DTYPE.itemsize)
            data = f.read(count * UID_DTYPE.itemsize)
        if len(data) != count * UID_DTYPE.itemsize:
            raise SelbenchError(f"{self.path}: truncated ({self.rows} rows announced)")
        return np.frombuffer(data, dtype=UID_DTYPE)


def merged_blocks(readers: Sequence[UidReader], block_rows: int = MERGE_ROWS) -> Iterator[np.ndarray]:
    """Yield the rows of uid-sorted runs in sorted order, block by block (equal uids, within
    or across runs, all kept); about ``block_rows`` rows are held at a time."""
    per_run = max(256, block_rows // max(1, len(readers)))
    pos = [0] * len(readers)
    windows: dict[int, np.ndarray] = {}  # run -> its unread rows from pos[i], read ahead
    while True:
        active = [i for i, r in enumerate(readers) if pos[i] < r.rows]
        if not active:
            return
        for i in active:
            if i not in windows or not len(windows[i]):
                windows[i] = readers[i].read(pos[i], per_run)
        # every run's rows <= the smallest window end are held now (rows after a window are
        # >= its end); rows equal to it that are not yet read sort after this block
        bound = min((int(windows[i][-1]["f0"]), int(windows[i][-1]["f1"])) for i in active)
        pieces = []
        for i in active:
            take = _count_le(windows[i], bound)
            pieces.append(windows[i][:take])
            windows[i] = windows[i][take:]
            pos[i] += take
        yield sort_uid_array(np.concatenate(pieces))


def _count_le(window: np.ndarray, bound: tuple[int, int]) -> int:
    """Rows of a uid-sorted window that are ``<= bound``."""
    return uid_span(window, *bound)[1]


def uid_span(sorted_uids: np.ndarray, hi: int, lo: int) -> tuple[int, int]:
    """``(start, end)``: the rows of the uid-sorted ``u8,u8`` array that equal uid ``(hi, lo)``
    (``start`` rows are smaller, ``end`` rows are ``<=`` it)."""
    hi, lo = np.uint64(hi), np.uint64(lo)
    a = int(np.searchsorted(sorted_uids["f0"], hi, "left"))
    b = int(np.searchsorted(sorted_uids["f0"], hi, "right"))
    f1 = sorted_uids["f1"][a:b]
    return a + int(np.searchsorted(f1, lo, "left")), a + int(np.searchsorted(f1, lo, "right"))


def staged_readers(paths: Sequence[Path], stage: Path | None, block_rows: int = MERGE_ROWS,
                   fan_in: int | None = None) -> list[UidReader]:
    """Readers over the uid-sorted runs ``paths``, at most ``fan_in`` (default ``MERGE_FAN_IN``)
    of them: with more runs, each group of ``fan_in`` is first merged into one run under
    ``stage/level<k>/`` (level by level; a level is removed once the next is written), so a
    merge holds ``fan_in`` windows whatever the number of shards. Rows are kept, equal uids
    included; ``stage`` is needed only when there are more than ``fan_in`` runs."""
    fan_in = int(fan_in or MERGE_FAN_IN)
    if fan_in < 2:
        raise SelbenchError(f"a merge's fan-in must be >= 2, got {fan_in}")
    paths, level = [Path(p) for p in paths], 0
    while len(paths) > fan_in:
        if stage is None:
            raise SelbenchError(f"merging {len(paths)} runs (more than {fan_in} at once) needs a "
                                "staging folder")
        folder = Path(stage) / f"level{level}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        groups = [paths[i:i + fan_in] for i in range(0, len(paths), fan_in)]
        paths = [folder / f"{g:08d}.npy" for g in range(len(groups))]
        for group, target in zip(groups, paths):
            _write_merged([UidReader(p) for p in group], target, block_rows)
        if level:
            shutil.rmtree(Path(stage) / f"level{level - 1}", ignore_errors=True)
        level += 1
    return [UidReader(p) for p in paths]


def merge_to_npy(paths: Sequence[Path], out: Path, block_rows: int = MERGE_ROWS,
                 stage: Path | None = None, fan_in: int | None = None) -> int:
    """Merge uid-sorted runs into one sorted ``.npy`` at ``out``, byte-identical to ``np.save``
    of the sorted concatenation; return its rows. Maps no file (see the module docstring).
    More than ``fan_in`` runs are merged through ``stage`` (``staged_readers``)."""
    return _write_merged(staged_readers(paths, stage, block_rows, fan_in), out, block_rows)


def _write_merged(readers: Sequence[UidReader], out: Path, block_rows: int) -> int:
    total = sum(r.rows for r in readers)
    header = {"descr": np.lib.format.dtype_to_descr(UID_DTYPE), "fortran_order": False,
              "shape": (total,)}
    with open(out, "wb") as dest:
        np.lib.format.write_array_header_1_0(dest, header)  # what np.save writes first
        for block in merged_blocks(readers, block_rows):
            dest.write(block.tobytes())
    return total
