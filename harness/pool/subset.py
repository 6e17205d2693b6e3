"""DataComp subset files: a sorted ``.npy`` of dtype ``u8,u8``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from harness.errors import SelbenchError
from harness.io import atomic_path
from harness.pool.uid import UID_DTYPE, sort_uid_array


def write_subset(path: str | os.PathLike, uids: np.ndarray) -> Path:
    """Sort ``uids`` (a ``u8,u8`` array) and write them to ``path`` atomically; return path."""
    path = Path(path)
    if uids.dtype != UID_DTYPE:
        raise SelbenchError(f"subset array has dtype {uids.dtype}, expected {UID_DTYPE}")
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, sort_uid_array(uids), allow_pickle=False)
    return path


def is_sorted(arr: np.ndarray) -> bool:
    """True when a ``u8,u8`` array is sorted ascending by ``(f0, f1)``."""
    if len(arr) < 2:
        return True
    hi, lo = arr["f0"], arr["f1"]
    return bool(np.all((hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] >= lo[:-1]))))


def read_subset(path: str | os.PathLike) -> np.ndarray:
    """Read a subset file, checking dtype, shape and sortedness; raise naming the file."""
    path = Path(path)
    if not path.is_file():
        raise SelbenchError(f"{path}: subset file not found")
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as exc:
        raise SelbenchError(f"{path}: not a readable .npy subset file ({exc})") from exc
    if arr.dtype != UID_DTYPE:
        raise SelbenchError(f"{path}: subset dtype is {arr.dtype}, expected {UID_DTYPE}")
    if arr.ndim != 1:
        raise SelbenchError(f"{path}: subset must be 1-D, got shape {arr.shape}")
    arr = np.asarray(arr)
    if not is_sorted(arr):
        raise SelbenchError(f"{path}: subset uids are not sorted ascending")
    return arr
