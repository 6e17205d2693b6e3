"""Reading pools in DataComp's layout, shard by shard.

A pool directory holds, per shard, ``<stem>.parquet`` (metadata) and ``<stem>.npz``
(teacher embeddings, rows aligned with the parquet), and optionally ``<stem>.tar``
(webdataset samples ``KEY.jpg/.txt/.json``). DataComp's own metadata directories (parquet
+ npz, no tars, no ``pool.json``) are read as they are. selbench-built pools also carry
``pool.json`` (name, size, embedding keys, teacher, fingerprint).
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pyarrow.parquet as pq

from harness.errors import SelbenchError
from harness.pool.npz import NpzKeyError, read_npz
from harness.pool.shards import Damage, read_tar
from harness.pool.uid import arrow_uids_to_array
from harness.schemas import read_json

POOL_INFO = "pool.json"
AUDIT_FILE = "audit.parquet"


@dataclass(frozen=True)
class ShardFiles:
    """The files of one metadata shard: parquet, npz, and the tar when present."""

    stem: str
    parquet: Path
    npz: Path
    tar: Path | None


@dataclass
class ShardData:
    """One shard's rows: ``uids`` (``u8,u8``), ``columns`` (numpy), ``embeddings`` (by key)."""

    files: ShardFiles
    offset: int  # row index of this shard's first row in the whole pool
    uids: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    uid_column: object = field(default=None, repr=False)  # the parquet's uid column (pyarrow)
    # embedding keys whose every row a reader checked against the pool's value rules
    values_checked: set = field(default_factory=set, repr=False)

    @property
    def uid_hex(self) -> np.ndarray:
        """The uids as stored (hex strings, object array), decoded on first use."""
        return np.asarray(self.uid_column.to_pylist(), dtype=object)

    def __len__(self) -> int:
        return len(self.uids)


class Pool:
    """A pool directory opened for streaming reads. Use ``Pool.open(path)``."""

    def __init__(self, root: Path, shards: list[ShardFiles], info: dict):
        self.root = root
        self.shards = shards
        self.info = info

    @classmethod
    def open(cls, root: str | os.PathLike) -> "Pool":
        """Open a pool directory; raise ``SelbenchError`` if it holds no metadata shards."""
        root = Path(root)
        if not root.is_dir():
            raise SelbenchError(f"{root}: pool directory not found")
        parquets = sorted(p for p in root.glob("*.parquet") if p.name != AUDIT_FILE)
        if not parquets:
            raise SelbenchError(f"{root}: no metadata shards (*.parquet) in pool directory")
        shards = []
        for pqt in parquets:
            npz = pqt.with_suffix(".npz")
            tar = pqt.with_suffix(".tar")
            shards.append(ShardFiles(pqt.stem, pqt, npz, tar if tar.exists() else None))
        info_path = root / POOL_INFO
        info = read_json("pool.json", info_path) if info_path.exists() else {}
        return cls(root, shards, info)

    # ----- facts about the pool -------------------------------------------------------
    @property
    def name(self) -> str:
        """The pool's name (``pool.json``), else the directory name."""
        return self.info.get("name", self.root.name)

    @property
    def has_tars(self) -> bool:
        """True when every shard has its tar."""
        return all(s.tar is not None for s in self.shards)

    def shard_rows(self) -> list[int]:
        """Row count of each shard, from the parquet footers (cheap)."""
        rows = []
        for s in self.shards:
            try:
                rows.append(pq.ParquetFile(s.parquet).metadata.num_rows)
            except Exception as exc:  # any corruption of a file we do not trust
                raise SelbenchError(f"{s.parquet}: unreadable parquet "
                                    f"({' '.join(str(exc).split())[:300]})") from exc
        return rows

    @property
    def num_rows(self) -> int:
        """Total rows in the metadata (the achieved pool size)."""
        return int(sum(self.shard_rows()))

    def embedding_keys(self) -> list[str]:
        """Sorted npz keys of the first shard (e.g. ``['b32_img', 'b32_txt']``)."""
        npz = self.shards[0].npz
        if not npz.exists():
            raise SelbenchError(f"{npz}: embeddings file missing")
        with np.load(npz, allow_pickle=False) as f:
            return sorted(f.files)

    def embedding_archs(self) -> list[str]:
        """Architectures with both ``<arch>_img`` and ``<arch>_txt`` keys."""
        keys = set(self.embedding_keys())
        return sorted(k[:-4] for k in keys if k.endswith("_img") and k[:-4] + "_txt" in keys)

    @property
    def default_embedding(self) -> str:
        """The default embedding arch: ``pool.json``'s teacher arch, else l14, else the first."""
        if "embedding" in self.info:
            return self.info["embedding"]
        archs = self.embedding_archs()
        if not archs:
            raise SelbenchError(f"{self.root}: no paired <arch>_img/<arch>_txt embedding keys")
        return "l14" if "l14" in archs else archs[0]

    @property
    def fingerprint(self) -> str:
        """``pool.json``'s content fingerprint; for foreign pools, a hash of names and sizes."""
        if "fingerprint" in self.info:
            return self.info["fingerprint"]
        h = hashlib.sha256()
        for s in self.shards:
            for p in (s.parquet, s.npz):
                h.update(f"{p.name}:{p.stat().st_size if p.exists() else -1};".encode())
        return "names-sizes:" + h.hexdigest()

    @property
    def audit_path(self) -> Path | None:
        """Path of the ground-truth ``audit.parquet`` when the pool has one."""
        p = self.root / AUDIT_FILE
        return p if p.exists() else None

    def analog_task_file(self, filename: str) -> Path | None:
        """``<pool>/<evalsets>/<imagenet_analog>/<filename>`` for an embedded pool, else None.

        The embedded pool's ImageNet-analog task holds the teacher's class-prompt and train
        image embeddings that ClipCov and DataComp's image filter use by default.
        """
        evalsets, task = self.info.get("evalsets"), self.info.get("imagenet_analog")
        if not evalsets or not task:
            return None
        return self.root / evalsets / task / filename

    # ----- streaming ------------------------------------------------------------------
    def iter_shards(self, columns: Sequence[str] = (), embeddings: Sequence[str] = (),
                    progress: bool | str = False) -> Iterator[ShardData]:
        """Yield each shard's uids, the requested parquet ``columns`` and npz ``embeddings``.

        Embeddings keep their stored dtype (fp16 or fp32). Only one shard is in memory at
        a time. ``progress`` (True or a label) shows a tqdm bar over rows.
        """
        offset = 0
        bar = _bar(self, progress)
        for shard in self.shards:
            data = read_shard(shard, columns, embeddings, offset)
            offset += len(data)
            if bar is not None:
                bar.update(len(data))
            yield data
            del data  # not held while the next shard is read
        if bar is not None:
            bar.close()

    def iter_tar_samples(self, shard: ShardFiles, damage: Damage | None = None) -> Iterator[dict]:
        """Yield the samples of a shard's tar as dicts with ``__key__``, ``jpg``, ``txt``, ``json``;
        damaged members are skipped and counted in ``damage`` (``harness.pool.shards``)."""
        if shard.tar is None:
            raise SelbenchError(f"{self.root}: shard {shard.stem} has no tar")
        yield from read_tar(shard.tar, damage)


def read_shard(shard: ShardFiles, columns: Sequence[str] = (), embeddings: Sequence[str] = (),
               offset: int = 0) -> ShardData:
    """Read one shard's uids, parquet ``columns`` and npz ``embeddings``; errors name the file."""
    cols = list(dict.fromkeys(["uid", *columns]))
    try:
        table = pq.read_table(shard.parquet, columns=cols)
    except Exception as exc:
        raise SelbenchError(f"{shard.parquet}: cannot read columns {cols} ({exc})") from exc
    try:
        uids = arrow_uids_to_array(table.column("uid"))
    except SelbenchError as exc:
        raise SelbenchError(f"{shard.parquet}: {exc}") from exc
    data = ShardData(shard, offset, uids, uid_column=table.column("uid"))
    for c in columns:
        data.columns[c] = table.column(c).to_numpy(zero_copy_only=False)
    if embeddings:
        if not shard.npz.exists():
            raise SelbenchError(f"{shard.npz}: embeddings file missing")
        try:
            arrays = read_npz(shard.npz, list(embeddings))
        except NpzKeyError as exc:
            raise SelbenchError(f"{shard.npz}: embedding key {exc.key!r} missing "
                                f"(has {', '.join(exc.available)})") from exc
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise SelbenchError(f"{shard.npz}: unreadable embeddings ({exc})") from exc
        for key, arr in arrays.items():
            if arr.ndim != 2:
                raise SelbenchError(f"{shard.npz}: {key} has shape {arr.shape}, expected (rows, dim)")
            if arr.shape[0] != len(uids):
                raise SelbenchError(f"{shard.npz}: {key} has {arr.shape[0]} rows, "
                                    f"{shard.parquet.name} has {len(uids)}")
            data.embeddings[key] = arr
    return data


def _bar(pool: Pool, progress):
    if not progress:
        return None
    from tqdm import tqdm

    label = progress if isinstance(progress, str) else "rows"
    return tqdm(total=pool.num_rows, desc=label, unit="row", unit_scale=True, leave=False)
