"""The rules a pool's metadata files follow, defined once for ``pool validate``, ``select`` and
``train``.

Per shard: the parquet is readable and has a ``uid`` column of 32-hex-character uids; the npz
is a zip of ``.npy`` members read without unpickling (an object array is a problem, never
loaded); every ``<arch>_img`` key has its ``<arch>_txt`` and the two have the same width;
embeddings are 2-D float16 or float32 arrays with the parquet's row count, of the same keys
and widths in every shard; their values are finite and of unit norm within ``NORM_TOL``.
Across the pool: no uid appears twice (uids compare case-insensitively), and there is at
least one row. Each broken rule is one line naming the file and, where it applies, the row.

``PoolCheck.problems`` yields every problem (``pool validate`` lists them all);
``require_pool_rules`` raises ``SelbenchError`` with the first (``select`` and ``train``).
The value rules are ``row_faults`` (``block_problem`` for one block): ``select`` applies
them to the blocks its scorers convert instead of a second pass over those keys.
It holds no pool-wide array: shards after the first are checked by ``ShardRules`` tasks
(through the caller's executor, or here one after the other), each writing its uids sorted
to a folder, and duplicates are found by merging those sorted files block by block.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pyarrow.parquet as pq

from harness.errors import SelbenchError
from harness.io import owned_temp_dir
from harness.pool.npz import read_npz
from harness.pool.sorted_uids import merged_blocks, staged_readers, uid_span
from harness.pool.uid import _HEX, arrow_uids_to_array, pair_to_uid

RULES_TMP_PREFIX = "selbench-rules-"  # + owner tag: the per-shard uid files of one check

NORM_TOL = 1e-2
EMBEDDING_DTYPES = (np.dtype(np.float16), np.dtype(np.float32))
ROW_BLOCK = 8192
EMBEDDING_SUFFIXES = ("_img", "_txt")


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line, at most 300 characters."""
    return " ".join(str(exc).split())[:300] or type(exc).__name__


class PoolCheck:
    """Applies the rules shard by shard; ``rows`` and ``embedding_dims`` are filled as it goes.

    ``values``: also check embedding values (finite, unit norm), except those of the keys in
    ``checked_when_read`` (a reader applies ``block_problem`` to them as it loads them).
    ``crc``: also verify the npz members' zip checksums (a full extra read; ``pool validate``
    does it).
    """

    def __init__(self, values: bool = True, crc: bool = False, checked_when_read=()):
        self.values, self.crc = values, crc
        self.checked_when_read = frozenset(checked_when_read)
        self.rows = 0
        self.embedding_dims: dict[str, int] = {}
        self._first_keys: tuple[str, ...] | None = None
        self._uids: list[np.ndarray] = []
        self._names: list[str] = []

    def problems(self, pool) -> Iterator[str]:
        """Yield one line per broken rule over every shard of ``pool`` (a ``Pool``)."""
        for shard in pool.shards:
            yield from self.shard_problems(shard)
        yield from self.duplicate_problems()
        if self.rows == 0:
            yield f"{pool.root}: the pool has no rows"

    # ----- one shard ---------------------------------------------------------------------
    def shard_problems(self, shard) -> Iterator[str]:
        """Yield the problems of one shard (``ShardFiles``); remember its uids for duplicates."""
        rows, problems = self._uid_problems(shard)
        yield from problems
        if rows is None:
            return
        self.rows += rows
        yield from self._npz_problems(shard, rows)

    def _uid_problems(self, shard) -> tuple[int | None, list[str]]:
        """(rows, problems) of the parquet's uid column; rows is None when it cannot be read."""
        try:
            table = pq.read_table(shard.parquet, columns=["uid"])
        except Exception as exc:  # any corruption of a file we do not trust
            names = _parquet_names(shard.parquet)
            if names is not None and "uid" not in names:
                return None, [f"{shard.parquet}: no 'uid' column"]
            return None, [f"{shard.parquet}: unreadable parquet ({one_line(exc)})"]
        column = table.column("uid")
        try:
            pairs = arrow_uids_to_array(column)
        except SelbenchError:
            uids = ["" if u is None else str(u) for u in column.to_pylist()]
            bad = [i for i, u in enumerate(uids) if len(u) != 32 or not _HEX.issuperset(u)]
            return len(uids), [f"{shard.parquet}: row {bad[0]}: uid {uids[bad[0]]!r} is not 32 hex "
                               f"characters ({len(bad)} rows in all)"]
        self._uids.append(pairs)
        self._names.append(shard.parquet.name)
        return len(pairs), []

    def _npz_problems(self, shard, rows: int) -> Iterator[str]:
        npz = shard.npz
        if not npz.exists():
            yield f"{npz}: embeddings file missing"
            return
        try:
            with zipfile.ZipFile(npz) as zf:
                keys = sorted(n[:-4] for n in zf.namelist() if n.endswith(".npy"))
                bad_member = zf.testzip() if self.crc else None
            arrays = read_npz(npz, keys)
        except Exception as exc:  # truncated zip, bad header, object (pickled) array ...
            yield f"{npz}: unreadable npz ({one_line(exc)})"
            return
        if bad_member is not None:
            yield f"{npz}: member {bad_member} fails its checksum"
            return
        yield from self._key_problems(npz, keys, arrays)
        for key in keys:
            if not key.endswith(EMBEDDING_SUFFIXES):
                continue
            arr = arrays[key]
            if arr.ndim != 2 or arr.dtype not in EMBEDDING_DTYPES:
                yield (f"{npz}: {key} must be a 2-D float16 or float32 array, "
                       f"got {arr.dtype} {arr.shape}")
                continue
            dim = self.embedding_dims.setdefault(key, int(arr.shape[1]))
            if dim != arr.shape[1]:
                yield f"{npz}: {key} is {arr.shape[1]}-d, earlier shards' {key} is {dim}-d"
                continue
            if arr.shape[0] != rows:
                yield f"{npz}: {key} has {arr.shape[0]} rows but {shard.parquet.name} has {rows}"
                continue
            if self.values and key not in self.checked_when_read:
                yield from value_problems(arr, f"{npz}: {key}")

    def _key_problems(self, npz: Path, keys: list[str], arrays: dict) -> Iterator[str]:
        img = {k[:-4] for k in keys if k.endswith("_img")}
        txt = {k[:-4] for k in keys if k.endswith("_txt")}
        for arch in sorted(img ^ txt):
            have, want = ("img", "txt") if arch in img else ("txt", "img")
            yield f"{npz}: key {arch}_{have} has no paired {arch}_{want}"
        if not img & txt:
            yield f"{npz}: no <arch>_img/<arch>_txt embedding keys"
        for arch in sorted(img & txt):
            a, b = arrays[arch + "_img"], arrays[arch + "_txt"]
            if a.ndim == 2 and b.ndim == 2 and a.shape[1] != b.shape[1]:
                yield (f"{npz}: {arch}_img is {a.shape[1]}-d but {arch}_txt is {b.shape[1]}-d "
                       "(image and text embeddings must have one width)")
        emb = tuple(k for k in keys if k.endswith(EMBEDDING_SUFFIXES))
        if self._first_keys is None:
            self._first_keys = emb
        elif emb != self._first_keys:
            yield (f"{npz}: embedding keys {', '.join(emb) or 'none'} differ from the first "
                   f"shard's ({', '.join(self._first_keys)})")

    # ----- the whole pool ----------------------------------------------------------------
    def duplicate_problems(self) -> Iterator[str]:
        """Yield one line naming the first uid that appears twice in the shards checked so far."""
        if not self._uids:
            return
        allu = np.concatenate(self._uids)
        order = np.argsort(allu, kind="stable", order=("f0", "f1"))
        s = allu[order]
        same = (s["f0"][1:] == s["f0"][:-1]) & (s["f1"][1:] == s["f1"][:-1])
        if not same.any():
            return
        i = int(np.argmax(same))
        first, second = sorted((int(order[i]), int(order[i + 1])))
        ends = np.cumsum([len(u) for u in self._uids])

        def where(pos: int) -> str:
            k = int(np.searchsorted(ends, pos, side="right"))
            return f"{self._names[k]} row {pos - (int(ends[k - 1]) if k else 0)}"

        uid = pair_to_uid(*allu[first].tolist())
        yield (f"duplicate uid {uid} ({where(second)}, also {where(first)}; "
               f"{int(same.sum())} duplicate rows in all)")


def nonfinite_rows(block: np.ndarray) -> np.ndarray | None:
    """The finiteness rule on a 2-D block: a bool mask of its rows holding NaN or inf, or None
    when every row is finite (part of ``row_faults``).

    One sum per row first: a NaN or inf always propagates into it (opposite infinities give
    NaN), so only a block with a non-finite sum is scanned element by element (a finite row
    whose sum overflows passes that scan).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        row_sums = block.sum(axis=1)
    if np.isfinite(row_sums).all():
        return None
    bad = ~np.isfinite(block).all(axis=1)
    return bad if bad.any() else None


def row_faults(block: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """The value rules on a float32 block of embeddings: ``(non-finite rows, finite rows whose
    norm is not 1 within NORM_TOL, norms)``, each mask None when no row breaks its rule.

    One dot product per row decides a block whose rows all pass (a NaN or inf row has no
    norm near 1); only a failing block is scanned for non-finite values.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        off = ~(np.abs(norms - 1.0) <= NORM_TOL)
    if not off.any():
        return None, None, norms
    nonfinite = nonfinite_rows(block)
    if nonfinite is not None:
        off &= ~nonfinite
    return nonfinite, (off if off.any() else None), norms


def block_problem(block: np.ndarray, where: str, first_row: int = 0) -> str | None:
    """One line naming the first row of a float32 ``block`` (row ``first_row`` of its array)
    that breaks the value rules (non-finite, else not unit-norm); None when all rows pass."""
    nonfinite, off, norms = row_faults(block)
    if nonfinite is not None:
        return f"{where} row {first_row + int(np.argmax(nonfinite))}: non-finite values"
    if off is not None:
        row = int(np.argmax(off))
        return f"{where} row {first_row + row}: norm {float(norms[row]):.4f} is not 1 within {NORM_TOL}"
    return None


def value_problems(arr: np.ndarray, where: str, rows: int = ROW_BLOCK) -> Iterator[str]:
    """Yield at most one line: the first row of ``arr`` that is not finite, else not unit-norm."""
    nonfinite, offnorm = [], []
    first_nf = first_norm = None
    for start in range(0, len(arr), rows):
        block = np.asarray(arr[start:start + rows], dtype=np.float32)
        bad_rows, bad, norms = row_faults(block)
        if bad_rows is not None:
            nonfinite.append(int(bad_rows.sum()))
            first_nf = first_nf if first_nf is not None else start + int(np.argmax(bad_rows))
            continue
        if bad is not None:
            offnorm.append(int(bad.sum()))
            if first_norm is None:
                row = int(np.argmax(bad))
                first_norm = (start + row, float(norms[row]))
    if first_nf is not None:
        yield f"{where} row {first_nf}: non-finite values ({sum(nonfinite)} rows in all)"
    elif first_norm is not None:
        row, norm = first_norm
        yield (f"{where} row {row}: norm {norm:.4f} is not 1 within {NORM_TOL} "
               f"({sum(offnorm)} rows in all)")


def _parquet_names(path: Path) -> list[str] | None:
    try:
        return pq.read_schema(path).names
    except Exception:
        return None


_CHECKED: set = set()


def _stamp(pool) -> tuple:
    """The pool's files, sizes and modification times: a pool that passed is not rechecked."""
    out = [str(Path(pool.root).resolve())]
    for shard in pool.shards:
        for p in (shard.parquet, shard.npz):
            try:
                st = os.stat(p)
                out.append((p.name, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append((p.name, -1, -1))
    return tuple(out)


def invalid_pool(problem: str, root) -> SelbenchError:
    """The one-line error for a broken rule of the pool at ``root``."""
    return SelbenchError(f"invalid pool: {problem} (`selbench pool validate pool={root}` "
                         "lists every problem)")


def require_pool_rules(pool, checked_when_read=(), map_items: Callable | None = None,
                       folder: Path | None = None) -> None:
    """Raise ``SelbenchError`` with the first broken rule of ``pool`` (a ``Pool``).

    ``checked_when_read``: embedding keys whose values the caller checks as it reads them
    (``harness.select.embeddings``: the arrays it converts anyway, not a second read of
    the npz); their headers are checked here. ``map_items(fn, items)`` runs the per-shard
    checks (an executor's ``map_items``; default: here, in order); ``folder`` (on a file
    system the tasks see; default a temporary folder) holds the per-shard sorted uids while
    the check runs and is removed after. A pool whose files are unchanged since it passed in
    this process is not read again (a sweep selects and trains many times from one pool).
    """
    stamp, skip = _stamp(pool), frozenset(checked_when_read)
    if (stamp, frozenset()) in _CHECKED or (stamp, skip) in _CHECKED:
        return
    first = first_problem(pool, map_items, folder, skip)
    if first is not None:
        raise invalid_pool(first, pool.root)
    _CHECKED.add((stamp, skip))


def first_problem(pool, map_items: Callable | None = None, folder: Path | None = None,
                  checked_when_read=()) -> str | None:
    """The first line ``PoolCheck(values=True, checked_when_read=...).problems(pool)`` would
    yield, or None; see ``require_pool_rules`` for the arguments."""
    if not pool.shards:
        return f"{pool.root}: the pool has no rows"
    made = folder is None
    if made:  # named by its owner: a killed check's folder goes with the next check
        folder = owned_temp_dir(tempfile.gettempdir(), RULES_TMP_PREFIX)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        skip = frozenset(checked_when_read)
        head = PoolCheck(values=True, checked_when_read=skip)  # the first shard: the reference
        problems = list(head.shard_problems(pool.shards[0]))
        if problems:
            return problems[0]
        write_sorted_uids(folder, pool.shards[0].stem, head._uids[0])
        task = ShardRules(head._first_keys, head.embedding_dims, folder, skip)
        rest = list(pool.shards[1:])
        results = map_items(task, rest) if map_items is not None else [task(s) for s in rest]
        for result in results:
            if result["problems"]:
                return result["problems"][0]
        duplicate = duplicate_problem(folder, pool.shards)
        if duplicate is not None:
            return duplicate
        if head.rows + sum(r["rows"] for r in results) == 0:
            return f"{pool.root}: the pool has no rows"
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class ShardRules:
    """Picklable per-shard job of ``first_problem``: one shard's problems (``PoolCheck`` order)
    against the first shard's embedding keys and widths; writes its uids sorted to ``folder``.
    Returns ``{"rows", "problems"}`` (at most the first problem)."""

    def __init__(self, first_keys: tuple[str, ...], dims: dict[str, int], folder: Path,
                 checked_when_read=()):
        self.first_keys, self.dims, self.folder = tuple(first_keys), dict(dims), Path(folder)
        self.skip = frozenset(checked_when_read)

    def __call__(self, shard) -> dict:
        check = PoolCheck(values=True, checked_when_read=self.skip)
        check._first_keys, check.embedding_dims = self.first_keys, dict(self.dims)
        problems = next(iter(check.shard_problems(shard)), None)
        if problems is None and check._uids:
            write_sorted_uids(self.folder, shard.stem, check._uids[0])
        return {"rows": check.rows, "problems": [] if problems is None else [problems]}


def write_sorted_uids(folder: Path, stem: str, uids: np.ndarray) -> None:
    """``folder/<stem>.npy``: the shard's uids sorted; ``<stem>.rows.npy``: their row numbers."""
    order = np.lexsort((uids["f1"], uids["f0"]))  # stable: equal uids in row order
    np.save(Path(folder) / f"{stem}.npy", uids[order], allow_pickle=False)
    np.save(Path(folder) / f"{stem}.rows.npy", order.astype(np.int64), allow_pickle=False)


def duplicate_problem(folder: Path, shards: Sequence) -> str | None:
    """``PoolCheck.duplicate_problems``'s line over the sorted uid files of ``shards`` in
    ``folder`` (merged block by block), or None."""
    readers = staged_readers([Path(folder) / f"{s.stem}.npy" for s in shards], Path(folder) / "stage")
    count, smallest, last = 0, None, None
    for block in merged_blocks(readers):
        if last is not None:
            block = np.concatenate([last, block])
        same = (block["f0"][1:] == block["f0"][:-1]) & (block["f1"][1:] == block["f1"][:-1])
        if same.any():
            count += int(same.sum())
            if smallest is None:
                smallest = block[int(np.argmax(same))]
        last = block[-1:].copy()
    if smallest is None:
        return None
    hi, lo = int(smallest["f0"]), int(smallest["f1"])
    where = []  # (shard, row) of every copy, in pool order
    for i, s in enumerate(shards):
        c, d = uid_span(np.load(Path(folder) / f"{s.stem}.npy", allow_pickle=False), hi, lo)
        if d > c:
            rows = np.load(Path(folder) / f"{s.stem}.rows.npy", allow_pickle=False)[c:d]
            where += [(i, int(r)) for r in sorted(rows)]
        if len(where) >= 2:
            break
    (i1, r1), (i2, r2) = where[:2]
    return (f"duplicate uid {pair_to_uid(hi, lo)} ({shards[i2].parquet.name} row {r2}, "
            f"also {shards[i1].parquet.name} row {r1}; {count} duplicate rows in all)")
