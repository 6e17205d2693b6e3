"""The ground-truth audit of a subset: what it kept of each defect kind and of head/tail concepts.

Only the engine calls this, after a strategy has chosen its rows, to write the manifest's
``audit`` entry. Strategies never see ``audit.parquet``.

``audit.parquet`` holds one row per pool sample: ``uid`` (32 hex characters), the defect
kind (column ``defect``; ``clean``, ``none``, empty or null mean no defect), optionally the
content ``domain``, the ``concept`` (null for samples without one) and the concept's
``frequency_group`` (``head``/``mid``/``tail``, as the pool generator drew them). Without
a ``frequency_group`` column, concepts are ranked by how many pool rows carry them: the
*head* is the most frequent 10% of concepts (at least one), the *tail* the least frequent half.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from harness.errors import SelbenchError
from harness.pool.uid import uids_to_array

DEFECT_COLUMNS = ("defect", "defect_kind", "kind")
CONCEPT_COLUMNS = ("concept", "concept_id")
COLUMNS = {"defect": DEFECT_COLUMNS, "concept": CONCEPT_COLUMNS, "domain": ("domain",),
           "frequency_group": ("frequency_group",)}
NO_DEFECT = {"", "clean", "none", "nan"}
HEAD_SHARE, TAIL_SHARE = 0.1, 0.5


def audit_report(audit_path: str | Path, uids: np.ndarray, mask: np.ndarray) -> dict:
    """Fractions kept per defect kind and for head/tail concepts, for the rows in ``mask``.

    ``uids`` (``u8,u8``) and ``mask`` are in pool order; audit rows are matched by uid.
    """
    frame = _read_audit(Path(audit_path))
    pool = pd.DataFrame({"f0": uids["f0"], "f1": uids["f1"], "kept": np.asarray(mask, bool)})
    rows = pool.merge(frame, on=["f0", "f1"], how="inner")
    report = {"audited_rows": int(len(rows)), "pool_rows": int(len(pool)),
              "kept": _frac(rows["kept"])}
    if "defect" in rows:
        kinds = rows["defect"].fillna("clean").astype(str)
        kinds = kinds.where(~kinds.str.lower().isin(NO_DEFECT), "clean")
        report["defect_rows"], report["defects_kept"] = _by_group(rows["kept"], kinds)
    if "domain" in rows:
        report["domain_rows"], report["domains_kept"] = _by_group(
            rows["kept"], rows["domain"].fillna("none").astype(str))
    if "concept" in rows:
        report.update(_concepts(rows.dropna(subset=["concept"])))
    return report


def _by_group(kept: pd.Series, groups: pd.Series) -> tuple[dict, dict]:
    grouped = kept.groupby(groups)
    return ({str(k): int(v) for k, v in grouped.size().items()},
            {str(k): round(float(v), 6) for k, v in grouped.mean().items()})


def _concepts(rows: pd.DataFrame) -> dict:
    if rows.empty:
        return {}
    counts = rows["concept"].value_counts(sort=False)
    kept_concepts = set(rows.loc[rows["kept"], "concept"])
    out = {"concepts": len(counts), "concepts_covered": round(len(kept_concepts) / len(counts), 6)}
    if "frequency_group" in rows and rows["frequency_group"].notna().any():
        groups = rows.dropna(subset=["frequency_group"])
        _, out["concepts_kept"] = _by_group(groups["kept"], groups["frequency_group"].astype(str))
        out["frequency_groups"] = "from audit.parquet"
        return out
    # rank by frequency, ties by concept name, so head/tail do not depend on row order
    order = sorted(counts.index, key=lambda c: (-int(counts[c]), str(c)))
    n_head = max(1, int(round(HEAD_SHARE * len(order))))
    n_tail = int(len(order) * TAIL_SHARE)
    head, tail = set(order[:n_head]), set(order[len(order) - n_tail:])
    out.update(head_concepts=n_head, tail_concepts=n_tail,
               concepts_kept={"head": _frac(rows.loc[rows["concept"].isin(head), "kept"]),
                              "tail": _frac(rows.loc[rows["concept"].isin(tail), "kept"])},
               frequency_groups=f"top {HEAD_SHARE:.0%} / bottom {TAIL_SHARE:.0%} of concepts by rows")
    return out


def _read_audit(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise SelbenchError(f"{path}: cannot read audit file ({exc})") from exc
    names = table.column_names
    if "uid" not in names:
        raise SelbenchError(f"{path}: audit file has no uid column")
    arr = uids_to_array(table.column("uid").to_pylist())
    frame = pd.DataFrame({"f0": arr["f0"], "f1": arr["f1"]})
    for target, candidates in COLUMNS.items():
        col = next((c for c in candidates if c in names), None)
        if col is not None:
            frame[target] = table.column(col).to_pandas()
    return frame


def _frac(kept: pd.Series) -> float | None:
    return round(float(kept.mean()), 6) if len(kept) else None


def summary_line(audit: dict) -> str:
    """A one-sentence human summary of an audit report (for ``selbench select``)."""
    parts = []
    kept = audit.get("defects_kept", {})
    if kept:
        parts.append("kept " + ", ".join(f"{100 * v:.0f}% of {k}" for k, v in sorted(kept.items())))
    concepts = audit.get("concepts_kept")
    if concepts:
        groups = [g for g in ("head", "mid", "tail") if g in concepts]
        parts.append(", ".join(f"{_pct(concepts[g])} of {g}-concept rows" for g in groups)
                     + f", {_pct(audit.get('concepts_covered'))} of concepts covered")
    return "Audit: " + "; ".join(parts) + "." if parts else ""


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"
