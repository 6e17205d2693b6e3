"""Fixtures for training tests: small pools with tar shards of 32x32 colour patches."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.pool.uid import uids_to_array
from harness.pool.subset import write_subset
from harness.pool.shards import write_tar
from harness.pool.writer import shard_stem, write_embeddings, write_metadata, write_pool_info

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220),
           "yellow": (230, 220, 40), "black": (10, 10, 10), "white": (245, 245, 245),
           "purple": (140, 40, 170), "orange": (250, 140, 20)}


def _jpg(rgb, rng: np.random.Generator) -> bytes:
    arr = np.clip(np.array(rgb)[None, None, :] + rng.normal(0, 12, (32, 32, 3)), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_tar_pool(root: Path, n: int = 120, shard_size: int = 50, seed: int = 0,
                  not_in_tars: int = 0) -> Path:
    """A pool of ``n`` colour patches captioned with their colour, in DataComp's layout.

    Writes ``{:08d}.tar/.parquet/.npz`` per shard and ``pool.json``; the last
    ``not_in_tars`` rows are in the metadata but not in the tars (download rot).
    """
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    uids = [f"{int(a):016x}{int(b):016x}" for a, b in raw]
    colours = [names[i % len(names)] for i in range(n)]
    texts = [f"a {c} square" for c in colours]
    root.mkdir(parents=True, exist_ok=True)
    for s, start in enumerate(range(0, n, shard_size)):
        rows = range(start, min(n, start + shard_size))
        samples = [{"__key__": f"{s:05d}{i - start:04d}", "jpg": _jpg(COLOURS[colours[i]], rng),
                    "txt": texts[i], "json": {"uid": uids[i], "caption": texts[i]}}
                   for i in rows if i < n - not_in_tars]
        write_tar(root / f"{shard_stem(s)}.tar", samples)
        frame = pd.DataFrame({"uid": [uids[i] for i in rows], "text": [texts[i] for i in rows]})
        write_metadata(root / f"{shard_stem(s)}.parquet", frame)
        emb = rng.normal(size=(len(rows), 8))
        emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)  # unit rows, as pools hold
        write_embeddings(root / f"{shard_stem(s)}.npz", {"teacher_img": emb, "teacher_txt": emb})
    write_pool_info(root, {"name": root.name, "embedding": "teacher"})
    (root / "uids.json").write_text(json.dumps(uids))
    return root


def pool_uids(pool: Path) -> list[str]:
    """The uids of a pool made by ``make_tar_pool``, in row order."""
    return json.loads((pool / "uids.json").read_text())


def subset_file(path: Path, uids: list[str]) -> Path:
    """Write ``uids`` (repeats allowed) as a DataComp subset file."""
    return write_subset(path, uids_to_array(uids))


@pytest.fixture(scope="session")
def tar_pool(tmp_path_factory) -> Path:
    """120 colour patches in 3 tar shards (read-only: tests must not modify it)."""
    return make_tar_pool(tmp_path_factory.mktemp("tarpool") / "pool")
