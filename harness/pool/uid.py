"""The DataComp uid codec: 32-hex-character uid <-> ``(u8, u8)`` pair."""
from __future__ import annotations

import numpy as np

from harness.errors import SelbenchError

UID_DTYPE = np.dtype("u8,u8")
_HEX = set("0123456789abcdefABCDEF")


def uid_to_pair(uid: str) -> tuple[int, int]:
    """Return ``(int(uid[:16], 16), int(uid[16:], 16))`` for a 32-hex-character uid."""
    if len(uid) != 32 or not _HEX.issuperset(uid):
        raise SelbenchError(f"invalid uid {uid!r}: expected 32 hexadecimal characters")
    return int(uid[:16], 16), int(uid[16:], 16)


def pair_to_uid(hi: int, lo: int) -> str:
    """Return the 32-character lowercase hex uid of the pair ``(hi, lo)``."""
    return f"{int(hi):016x}{int(lo):016x}"


_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i


def uids_to_array(uids) -> np.ndarray:
    """Encode an iterable of hex uids as a ``u8,u8`` structured array (order kept).

    Vectorised: the ASCII bytes are mapped to nibbles with a lookup table. Raises
    ``SelbenchError`` naming the first uid that is not 32 hexadecimal characters.
    """
    uids = [str(u) for u in uids]
    out = np.empty(len(uids), dtype=UID_DTYPE)
    if not uids:
        return out
    lengths = np.fromiter((len(u) for u in uids), dtype=np.int64, count=len(uids))
    try:
        raw = np.array(uids, dtype="S32") if (lengths == 32).all() else None
    except UnicodeEncodeError:  # a non-ASCII character: not hex
        raw = None
    nib = None if raw is None else _NIBBLE[raw.view(np.uint8).reshape(-1, 32)]
    if nib is None or (nib == 255).any():
        bad = next(i for i, u in enumerate(uids)
                   if len(u) != 32 or not _HEX.issuperset(u))
        raise SelbenchError(f"invalid uid {uids[bad]!r} at row {bad}: "
                            "expected 32 hexadecimal characters")
    return _pairs(nib, out)


def _pairs(nib: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (``u8,u8``) from an (N, 32) array of valid nibbles; return it."""
    packed = (nib[:, 0::2] << 4) | nib[:, 1::2]  # (N, 16) bytes, most significant first
    halves = np.ascontiguousarray(packed).view(">u8")  # (N, 2) big-endian words
    out["f0"] = halves[:, 0]
    out["f1"] = halves[:, 1]
    return out


def arrow_uids_to_array(column) -> np.ndarray:
    """``uids_to_array`` of a pyarrow string column, read from its buffers without Python strings.

    Falls back to ``uids_to_array`` (and its error naming the bad row) when the column has
    nulls, is not a string column, or holds a value that is not 32 hexadecimal characters.
    """
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = {pa.string(): np.int32, pa.large_string(): np.int64}.get(arr.type)
    if kind is not None and arr.null_count == 0 and len(arr):
        _, offsets_buf, data_buf = arr.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=kind)[arr.offset:arr.offset + len(arr) + 1]
        if (np.diff(offsets) == 32).all():
            raw = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 32)
            nib = _NIBBLE[raw]
            if not (nib == 255).any():
                return _pairs(nib, np.empty(len(arr), dtype=UID_DTYPE))
    return uids_to_array(arr.to_pylist())


def array_to_uids(arr: np.ndarray) -> list[str]:
    """Decode a ``u8,u8`` structured array to hex uids (order kept)."""
    return [pair_to_uid(h, l) for h, l in zip(arr["f0"].tolist(), arr["f1"].tolist())]


def sort_uid_array(arr: np.ndarray) -> np.ndarray:
    """Return the array sorted ascending by ``(f0, f1)``, as DataComp's resharder expects."""
    order = np.lexsort((arr["f1"], arr["f0"]))
    return arr[order]
