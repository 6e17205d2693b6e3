"""A shard's stored embeddings (fp16 or fp32) as float32 row blocks, checked against the pool's
value rules (finite, unit norm: ``harness.pool.rules.block_problem``) as they are converted.

Scorers read DataComp's fp16 ``.npz`` embeddings; converting a whole 100k-row shard to
float32 and scanning it before scoring costs several passes over memory that is larger
than the cache. Working in row blocks keeps each block in cache between the conversion,
the checks and the score, and torch's conversion kernel is used for fp16 (numpy's
float16 -> float32 cast measured ~3x slower on the 2-core machine). A shard whose every
row of a key went through here records the key in ``shard.values_checked``, so that
``select`` need not read that key a second time to apply the rules
(``harness.pool.rules.require_pool_rules(checked_when_read=...)``).
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from harness.pool.rules import block_problem, invalid_pool

ROW_BLOCK = 8192   # rows per block: 8192 x 768 float32 = 24 MiB per key


def to_float32(arr: np.ndarray) -> np.ndarray:
    """``arr`` as a C-contiguous float32 array (a view when it already is one)."""
    if arr.dtype == np.float16:
        import torch

        return torch.from_numpy(np.ascontiguousarray(arr)).float().numpy()
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_block(block: np.ndarray, shard, key: str, first_row: int = 0) -> None:
    """Raise ``SelbenchError`` (``invalid pool: ...``) naming the first row of ``block`` (rows
    ``first_row``... of ``shard``'s ``key``) that is not finite, else not of unit norm."""
    problem = block_problem(block, f"{shard.files.npz}: {key}", first_row)
    if problem is not None:
        raise invalid_pool(problem, shard.files.npz.parent)


def float32_blocks(shard, keys: Sequence[str], rows: int = ROW_BLOCK
                   ) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Yield ``(first row, [float32 block of each key])`` over ``shard``, each block checked."""
    arrays = [shard.embeddings[k] for k in keys]
    n = len(arrays[0]) if arrays else 0
    for start in range(0, n, rows):
        blocks = []
        for key, arr in zip(keys, arrays):
            block = to_float32(arr[start:start + rows])
            check_block(block, shard, key, start)
            blocks.append(block)
        yield start, blocks
    checked = getattr(shard, "values_checked", None)
    if checked is not None:  # every row of these keys passed
        checked.update(keys)


def shard_float32(shard, key: str) -> np.ndarray:
    """The whole ``key`` array of ``shard`` as float32, checked block by block."""
    arr = shard.embeddings[key]
    out = np.empty(arr.shape, dtype=np.float32)
    for start, (block,) in float32_blocks(shard, [key]):
        out[start:start + len(block)] = block
    return out


def check_stored_finite(shard, key: str) -> np.ndarray:
    """The stored ``key`` array of ``shard`` (its own dtype), checked block by block."""
    for _ in float32_blocks(shard, [key]):
        pass
    return np.asarray(shard.embeddings[key])
