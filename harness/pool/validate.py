"""Pool validation: the rules of ``harness.pool.rules`` plus the tars; one problem per line,
naming the file and, where it applies, the row."""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.parquet as pq

from harness.pool.layout import Pool, ShardFiles
from harness.pool.rules import NORM_TOL, PoolCheck, one_line  # noqa: F401  (NORM_TOL re-exported)


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
    """Check every shard of the pool at ``root`` against ``harness.pool.rules`` (the rules
    ``select`` and ``train`` apply too), and its tars; return a report (never raises on content)."""
    pool = Pool.open(root)
    report = ValidationReport(shards=len(pool.shards))
    check = PoolCheck(values=True, crc=True)
    report.problems.extend(check.problems(pool))  # the rules' problems first, as select/train see them
    report.rows = check.rows
    report.embedding_dims = dict(check.embedding_dims)
    for shard in pool.shards if check_tars else ():
        if shard.tar is not None:
            report.tar_shards += 1
            _check_tar(pool, shard, _uids(shard), report)
    return report


def _uids(shard: ShardFiles) -> set:
    try:
        return {str(u) for u in pq.read_table(shard.parquet, columns=["uid"]).column("uid").to_pylist()}
    except Exception:
        return set()


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
            try:
                found.add(str(json.loads(meta)["uid"]))
            except (ValueError, KeyError, TypeError) as exc:
                report.problems.append(f"{shard.tar}: sample {sample['__key__']}: unreadable .json "
                                       f"({one_line(exc)})")
    except Exception as exc:
        report.problems.append(f"{shard.tar}: unreadable tar ({one_line(exc)})")
        return
    if damage.count:
        detail = ", ".join(f"{n} x {why}" for why, n in sorted(damage.reasons.items()))
        report.problems.append(f"{shard.tar}: {damage.count} damaged part(s) skipped ({detail})")
    extra = found - uids
    if extra:
        report.problems.append(f"{shard.tar}: {len(extra)} samples not in {shard.parquet.name} "
                               f"(e.g. {sorted(extra)[0]})")
    report.missing_from_tars += len(uids - found)
