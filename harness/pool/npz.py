"""Read arrays from an ``.npz`` without copying them: uncompressed members are memory-mapped.

``np.savez`` (selbench's writer) stores members without compression.
``np.load(...)[key]`` reads such a member through ``zipfile`` into a fresh array, checking
its CRC: for a 100k x 768 fp16 key that is a 154 MB copy per key and per shard, which the
scorers then convert to float32 anyway. Here a stored member is mapped from the file at
its data offset (the page cache is read once, by the conversion); a deflated member is
read with ``numpy.lib.format.read_array``. Object arrays are refused, never unpickled.
The zip CRC of a mapped member is not verified (``selbench pool validate`` loads every
member with ``np.load``, which does); finiteness is checked by every reader of embeddings.
"""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

_LOCAL_HEADER = b"PK\x03\x04"


class NpzKeyError(KeyError):
    """A requested key is not a member of the ``.npz``; ``available`` lists those that are."""

    def __init__(self, key: str, available: list[str]):
        super().__init__(key)
        self.key, self.available = key, available


def read_npz(path: str | Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Arrays ``keys`` of the ``.npz`` at ``path`` (mapped copy-on-write: the file never changes).

    Raises ``NpzKeyError`` for a missing key and ``ValueError`` for a malformed member.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as zf:
        available = sorted(n[:-4] for n in zf.namelist() if n.endswith(".npy"))
        out = {}
        for key in keys:
            if key not in available:
                raise NpzKeyError(key, available)
            info = zf.getinfo(key + ".npy")
            mapped = _map_stored(path, info) if info.compress_type == zipfile.ZIP_STORED else None
            if mapped is None:
                with zf.open(info) as member:
                    mapped = np.lib.format.read_array(member, allow_pickle=False)
            out[key] = mapped
    return out


def _map_stored(path: Path, info: zipfile.ZipInfo) -> np.ndarray | None:
    """Memory-map a stored ``.npy`` member; None when its header version is not 1.0 or 2.0."""
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        local = raw.read(30)
        if len(local) < 30 or local[:4] != _LOCAL_HEADER:
            raise ValueError(f"member {info.filename}: bad local header")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        raw.seek(start)
        version = np.lib.format.read_magic(raw)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(raw)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(raw)
        else:
            return None
        data_start = raw.tell()
    if dtype.hasobject:
        raise ValueError(f"member {info.filename}: object arrays are not read (pickles)")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if data_start - start + nbytes != info.file_size:
        raise ValueError(f"member {info.filename}: {info.file_size} bytes, header says "
                         f"{data_start - start + nbytes}")
    if nbytes == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="c", offset=data_start, shape=shape,
                     order="F" if fortran else "C")
