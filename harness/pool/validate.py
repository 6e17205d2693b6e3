"""Pool validation: one problem per line, naming the file and, where it applies, the row."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq

from harness.errors import SelbenchError
from harness.pool.layout import Pool, ShardFiles
from harness.pool.uid import _HEX

NORM_TOL = 1e-2


@dataclass
class ValidationReport:
    """What ``validate_pool`` found: a summary and a list of one-line problems."""

    shards: int = 0
    rows: int = 0
    embedding_dims: dict = field(default_factory=dict)
    tar_shards: int = 0
    missing_from_tars: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary_lines(self) -> list[str]:
        """Human-readable summary lines."""
        dims = ", ".join(f"{k} ({d}-d)" for k, d in sorted(self.embedding_dims.items()))
        return [f"shards: {self.shards}", f"rows: {self.rows}", f"embeddings: {dims or 'none'}",
                f"tar shards: {self.tar_shards}",
                f"samples missing from tars: {self.missing_from_tars}"]


def validate_pool(root, check_tars: bool = True) -> ValidationReport:
    """Check every shard of the pool at ``root``; return a report (never raises on content)."""
    pool = Pool.open(root)
    report = ValidationReport(shards=len(pool.shards))
    seen: dict[bytes, str] = {}
    for shard in pool.shards:
        uids = _check_parquet(shard, report, seen)
        if uids is None:
            continue
        report.rows += len(uids)
        _check_npz(shard, len(uids), report)
        if check_tars and shard.tar is not None:
            report.tar_shards += 1
            _check_tar(pool, shard, set(uids), report)
    return report


def _check_parquet(shard: ShardFiles, report: ValidationReport, seen: dict) -> list[str] | None:
    try:
        table = pq.read_table(shard.parquet)
    except Exception as exc:
        report.problems.append(f"{shard.parquet}: unreadable parquet ({_one_line(exc)})")
        return None
    if "uid" not in table.column_names:
        report.problems.append(f"{shard.parquet}: no 'uid' column")
        return None
    uids = [str(u) for u in table.column("uid").to_pylist()]
    for row, uid in enumerate(uids):
        if len(uid) != 32 or not _HEX.issuperset(uid):
            report.problems.append(f"{shard.parquet}: row {row}: uid {uid!r} is not 32 hex characters")
            continue
        key = uid.lower()
        if key in seen:
            report.problems.append(f"{shard.parquet}: row {row}: duplicate uid {uid} (also {seen[key]})")
        else:
            seen[key] = f"{shard.parquet.name} row {row}"
    return uids


def _check_npz(shard: ShardFiles, rows: int, report: ValidationReport) -> None:
    if not shard.npz.exists():
        report.problems.append(f"{shard.npz}: embeddings file missing")
        return
    try:
        f = np.load(shard.npz, allow_pickle=False)
        keys = list(f.files)
    except Exception as exc:
        report.problems.append(f"{shard.npz}: unreadable npz ({_one_line(exc)})")
        return
    with f:
        archs_img = {k[:-4] for k in keys if k.endswith("_img")}
        archs_txt = {k[:-4] for k in keys if k.endswith("_txt")}
        for arch in sorted(archs_img ^ archs_txt):
            have = "img" if arch in archs_img else "txt"
            want = "txt" if have == "img" else "img"
            report.problems.append(f"{shard.npz}: key {arch}_{have} has no paired {arch}_{want}")
        if not archs_img & archs_txt:
            report.problems.append(f"{shard.npz}: no <arch>_img/<arch>_txt embedding keys")
        for key in keys:
            _check_embedding(shard, key, f[key], rows, report)


def _check_embedding(shard, key, arr, rows, report) -> None:
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        if key.endswith(("_img", "_txt")):
            report.problems.append(f"{shard.npz}: {key} must be a 2-D float array, got {arr.dtype} {arr.shape}")
        return
    report.embedding_dims.setdefault(key, int(arr.shape[1]))
    if arr.shape[0] != rows:
        report.problems.append(f"{shard.npz}: {key} has {arr.shape[0]} rows but "
                               f"{shard.parquet.name} has {rows}")
        return
    if not key.endswith(("_img", "_txt")):
        return
    a32 = arr.astype(np.float32)
    finite = np.isfinite(a32).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        report.problems.append(f"{shard.npz}: {key} row {row}: non-finite values "
                               f"({int((~finite).sum())} rows in all)")
        return
    norms = np.linalg.norm(a32, axis=1)
    bad = np.abs(norms - 1.0) > NORM_TOL
    if bad.any():
        row = int(np.argmax(bad))
        report.problems.append(f"{shard.npz}: {key} row {row}: norm {norms[row]:.4f} is not 1 "
                               f"within {NORM_TOL} ({int(bad.sum())} rows in all)")


def _check_tar(pool: Pool, shard: ShardFiles, uids: set, report: ValidationReport) -> None:
    import json

    from harness.pool.shards import Damage

    found, damage = set(), Damage()
    try:
        for sample in pool.iter_tar_samples(shard, damage):
            meta = sample.get("json")
            if meta is None:
                report.problems.append(f"{shard.tar}: sample {sample['__key__']} has no .json")
                continue
            found.add(json.loads(meta)["uid"])
    except Exception as exc:
        report.problems.append(f"{shard.tar}: unreadable tar ({_one_line(exc)})")
        return
    if damage.count:
        detail = ", ".join(f"{n} x {why}" for why, n in sorted(damage.reasons.items()))
        report.problems.append(f"{shard.tar}: {damage.count} damaged part(s) skipped ({detail})")
    extra = found - uids
    if extra:
        report.problems.append(f"{shard.tar}: {len(extra)} samples not in {shard.parquet.name} "
                               f"(e.g. {sorted(extra)[0]})")
    report.missing_from_tars += len(uids - found)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def require_valid(root) -> None:
    """Raise ``SelbenchError`` with the first problem when the pool at ``root`` is invalid."""
    report = validate_pool(root, check_tars=False)
    if not report.ok:
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        raise SelbenchError(report.problems[0] + more)
