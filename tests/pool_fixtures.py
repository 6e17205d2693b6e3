"""Shared test helpers: small metadata pools in DataComp's layout, built in a temp dir."""
from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.pool.writer import (shard_stem, write_embeddings, write_metadata,
                                 write_pool_info)


def random_uids(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct 32-hex-character uids drawn from ``rng``."""
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64)
    uids = [f"{int(a):016x}{int(b):016x}" for a, b in raw]
    assert len(set(uids)) == n
    return uids


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm."""
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_pool(root: Path, img: np.ndarray, txt: np.ndarray, texts: list[str] | None = None,
               uids: list[str] | None = None, shard_size: int | None = None, arch: str = "l14",
               dtype=np.float16, info: dict | None = None, seed: int = 0) -> Path:
    """Write a metadata-only pool (parquet + npz per shard, pool.json) from given rows.

    ``img``/``txt`` are (N, d) embeddings (written as given, in ``dtype``); returns ``root``.
    """
    n = len(img)
    rng = np.random.default_rng(seed)
    uids = uids or random_uids(n, rng)
    texts = texts or [f"caption number {i}" for i in range(n)]
    shard_size = shard_size or n
    root.mkdir(parents=True, exist_ok=True)
    for s, start in enumerate(range(0, n, shard_size)):
        sl = slice(start, min(n, start + shard_size))
        sim = (img[sl].astype(np.float32) * txt[sl].astype(np.float32)).sum(1)
        frame = pd.DataFrame({"uid": uids[sl], "text": texts[sl],
                              "original_width": 256, "original_height": 256,
                              f"clip_{arch}_similarity_score": sim})
        write_metadata(root / f"{shard_stem(s)}.parquet", frame)
        write_embeddings(root / f"{shard_stem(s)}.npz", {f"{arch}_img": img[sl], f"{arch}_txt": txt[sl]},
                         dtype=dtype)
    write_pool_info(root, {"name": root.name, "embedding": arch, **(info or {})})
    return root


def make_random_pool(root: Path, n: int = 200, dim: int = 16, shard_size: int = 64,
                     seed: int = 0, arch: str = "l14", dtype=np.float32) -> Path:
    """A pool of ``n`` random unit embeddings whose image/text pairs are partly aligned."""
    rng = np.random.default_rng(seed)
    img = unit_rows(rng.normal(size=(n, dim)))
    noise = rng.normal(size=(n, dim)) * rng.uniform(0.2, 3.0, size=(n, 1))
    txt = unit_rows(img + noise)
    return write_pool(root, img, txt, shard_size=shard_size, arch=arch, dtype=dtype, seed=seed)


def check_nonfinite_pool_refused(tmp_path: Path, executor, executor_name: str = "local") -> None:
    """A pool with one non-finite embedding row: ``executor.map_shards`` raises the one-line
    SelbenchError naming the shard and row, and select refuses the pool before any task starts,
    leaving no output."""
    from functools import partial

    from harness.errors import SelbenchError
    from harness.pool.layout import Pool
    from harness.select.base import Budget
    from harness.select.embeddings import shard_float32
    from harness.select.engine import run_selection

    img = np.eye(6, 3)
    img[3:, 2] = 1.0  # unit rows
    img[4, 0] = np.inf
    root = write_pool(tmp_path / "pool", img, img, shard_size=3, dtype=np.float32)
    with pytest.raises(SelbenchError, match=r"00000001\.npz: l14_img row 1: non-finite"):
        executor.map_shards(partial(shard_float32, key="l14_img"), Pool.open(root), embedding_keys=["l14_img"])
    out = tmp_path / "out" / "s.npy"
    with pytest.raises(SelbenchError, match=r"invalid pool: .*00000001\.npz: l14_img row 1: non-finite"):
        run_selection(root, "clip_score", {"source": "embeddings"}, Budget(count=2), 0, out,
                      workers=2, progress=False, executor=executor_name)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped): the owner of a killed run's files."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
