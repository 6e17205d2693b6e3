"""A shard's stored embeddings (fp16 or fp32) as float32 row blocks, checked finite.

Scorers read DataComp's fp16 ``.npz`` embeddings; converting a whole 100k-row shard to
float32 and scanning it for NaN/inf before scoring costs several passes over memory that
is larger than the cache. Working in row blocks keeps each block in cache between the
conversion, the finiteness check and the score, and torch's conversion kernel is used for
fp16 (numpy's float16 -> float32 cast measured ~3x slower on the 2-core machine).
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from harness.errors import SelbenchError

ROW_BLOCK = 8192   # rows per block: 8192 x 768 float32 = 24 MiB per key


def to_float32(arr: np.ndarray) -> np.ndarray:
    """``arr`` as a C-contiguous float32 array (a view when it already is one)."""
    if arr.dtype == np.float16:
        import torch

        return torch.from_numpy(np.ascontiguousarray(arr)).float().numpy()
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_finite(block: np.ndarray, where: str, first_row: int = 0) -> None:
    """Raise ``SelbenchError`` naming the first row of ``block`` holding NaN or inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        row_sums = block.sum(axis=1)
    if np.isfinite(row_sums).all():  # one value per row: a NaN or inf always propagates
        return
    bad = ~np.isfinite(block).all(axis=1)
    if bad.any():
        raise SelbenchError(f"{where} row {first_row + int(np.argmax(bad))}: non-finite embedding")


def float32_blocks(shard, keys: Sequence[str], rows: int = ROW_BLOCK
                   ) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Yield ``(first row, [float32 block of each key])`` over ``shard``, blocks checked finite."""
    arrays = [shard.embeddings[k] for k in keys]
    n = len(arrays[0]) if arrays else 0
    for start in range(0, n, rows):
        blocks = []
        for key, arr in zip(keys, arrays):
            block = to_float32(arr[start:start + rows])
            check_finite(block, f"{shard.files.npz}: {key}", start)
            blocks.append(block)
        yield start, blocks


def shard_float32(shard, key: str) -> np.ndarray:
    """The whole ``key`` array of ``shard`` as float32, checked finite block by block."""
    arr = shard.embeddings[key]
    out = np.empty(arr.shape, dtype=np.float32)
    for start, (block,) in float32_blocks(shard, [key]):
        out[start:start + len(block)] = block
    return out


def check_stored_finite(shard, key: str) -> np.ndarray:
    """The stored ``key`` array of ``shard`` (its own dtype), checked finite block by block."""
    for _ in float32_blocks(shard, [key]):
        pass
    return np.asarray(shard.embeddings[key])
