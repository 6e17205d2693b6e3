"""Writing pools in DataComp's layout: parquet metadata, npz embeddings, stats, pool.json
(the tar shards are written by ``harness.pool.shards``)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.io import atomic_path, sha256_file, write_json_atomic
from harness.pool.layout import POOL_INFO
from harness.schemas import stamp


def shard_stem(index: int) -> str:
    """DataComp's shard name for shard ``index``: ``{index:08d}``."""
    return f"{index:08d}"


def write_stats(path: str | os.PathLike, successes: int, count: int) -> None:
    """Write img2dataset's ``{stem}_stats.json`` (``successes`` = samples written)."""
    write_json_atomic(path, {"count": count, "successes": successes,
                             "failed_to_download": count - successes})


def write_metadata(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write a metadata parquet atomically (must hold a ``uid`` column of hex strings)."""
    if "uid" not in frame.columns:
        raise ValueError("metadata frame needs a 'uid' column")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def write_embeddings(path: str | os.PathLike, arrays: Mapping[str, np.ndarray],
                     dtype=np.float16) -> None:
    """Write ``{key: (rows, dim)}`` embeddings to an ``.npz`` atomically, cast to ``dtype``."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: np.ascontiguousarray(v, dtype=dtype) for k, v in arrays.items()})


def content_fingerprint(root: str | os.PathLike) -> str:
    """sha256 over every shard's parquet and npz sha256, in shard order."""
    root = Path(root)
    h = hashlib.sha256()
    for pqt in sorted(root.glob("*.parquet")):
        if pqt.name == "audit.parquet":
            continue
        h.update(f"{pqt.stem}:{sha256_file(pqt)}:{sha256_file(pqt.with_suffix('.npz'))};".encode())
    return h.hexdigest()


def write_pool_info(root: str | os.PathLike, info: dict) -> dict:
    """Complete ``info`` with size, embedding keys and fingerprint; write ``pool.json``."""
    root = Path(root)
    rows = 0
    for pqt in sorted(root.glob("*.parquet")):
        if pqt.name != "audit.parquet":
            rows += pq.ParquetFile(pqt).metadata.num_rows
    first_npz = sorted(p for p in root.glob("*.npz"))[0]
    with np.load(first_npz, allow_pickle=False) as f:
        keys = {k: int(f[k].shape[1]) for k in sorted(f.files)}
    full = dict(info)
    full.update(size=rows, embedding_keys=keys, fingerprint=content_fingerprint(root))
    full = stamp("pool.json", full, str(root / POOL_INFO))
    write_json_atomic(root / POOL_INFO, full)
    return full
