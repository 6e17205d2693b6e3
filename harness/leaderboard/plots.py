"""Leaderboard plots (matplotlib, Agg backend), written as PNG files.

- ``groups.png``: the five DataComp columns per (strategy, budget), bars at the mean over
  seeds with the standard deviation as error bars;
- ``budget.png``: each column against the budget, one line per strategy (only when some
  strategy ran at several budgets of one kind, fraction or count);
- ``audit_defects.png`` / ``audit_concepts.png``: for pools with ground truth, what each
  (strategy, budget) kept of each defect kind and of head/tail concepts, from the selection
  manifests' ``audit`` entry (see ``harness.select.audit``), averaged over seeds.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from harness.leaderboard.runs import Run
from harness.leaderboard.tables import COLUMNS

PNG_META = {"Software": None}  # no version string: same inputs, same bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def make_plots(runs: list[Run], run_frame: pd.DataFrame, summary: pd.DataFrame,
               out_dir: Path) -> dict[str, Path]:
    """Write every plot that the data supports into ``out_dir``; return ``{name: path}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made = {}
    if len(summary):
        made["groups"] = plot_groups(summary, out_dir / "groups.png")
    budget = plot_budgets(run_frame, runs, out_dir / "budget.png")
    if budget:
        made["budget"] = budget
    for section, path in plot_audit(runs, out_dir).items():
        made[f"audit_{section}"] = path
    return made


def _group_label(row) -> str:
    mark = "" if row["complete"] else "*"
    return f"{row['strategy']} @ {row['budget']}{mark}"


def plot_groups(summary: pd.DataFrame, path: Path) -> Path:
    """Grouped bars: x = DataComp column, one bar per (strategy, budget), error bar = std."""
    plt = _pyplot()
    n = len(summary)
    width = 0.8 / max(n, 1)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.6 * len(COLUMNS) + 0.25 * n), 4.2))
    x = np.arange(len(COLUMNS))
    for i, row in enumerate(summary.to_dict("records")):
        means = np.array([row[c] for c in COLUMNS], dtype=float)
        stds = np.nan_to_num(np.array([row[f"{c} std"] for c in COLUMNS], dtype=float), nan=0.0)
        have = ~np.isnan(means)  # an incomplete column gets no bar, never a zero
        ax.bar((x + (i - (n - 1) / 2) * width)[have], means[have], width, yerr=stds[have],
               capsize=2, label=_group_label(row))
    ax.set_xticks(x, COLUMNS)
    ax.set_ylabel("score (mean over seeds)")
    ax.set_title("DataComp columns per strategy (error bars: std over seeds; * incomplete)")
    ax.legend(fontsize=7, ncols=2 if n > 6 else 1)
    return _save(fig, path)


def plot_budgets(run_frame: pd.DataFrame, runs: list[Run], path: Path) -> Path | None:
    """Each column against the budget per strategy; None when no strategy has two budgets."""
    kinds = {r.identity[1]: r.budget_value for r in runs if r.budget_value}
    frame = run_frame[run_frame["budget"].isin(kinds)].copy()
    if frame.empty:
        return None
    frame["kind"] = frame["budget"].map(lambda b: kinds[b][0])
    frame["x"] = frame["budget"].map(lambda b: kinds[b][1])
    kind = frame["kind"].mode().iloc[0]
    frame = frame[frame["kind"] == kind]
    per_strategy = frame.groupby("strategy")["x"].nunique()
    if per_strategy.max() < 2:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(COLUMNS), figsize=(3.2 * len(COLUMNS), 3.4), squeeze=False)
    for ax, col in zip(axes[0], COLUMNS):
        for strategy, group in frame.groupby("strategy"):
            stats = group.groupby("x")[col].agg(["mean", "std"]).reset_index()
            ax.errorbar(stats["x"], stats["mean"], yerr=stats["std"].fillna(0.0), marker="o",
                        capsize=2, label=strategy)
        ax.set_title(col, fontsize=9)
        ax.set_xlabel(f"budget ({kind})")
    axes[0][0].set_ylabel("score (mean over seeds)")
    axes[0][-1].legend(fontsize=7)
    return _save(fig, path)


def audit_sections(audit) -> dict[str, dict[str, float]]:
    """The fractions kept in a manifest's ``audit`` entry (``harness.select.audit``):
    ``{"defects": {kind: fraction kept}, "concepts": {"all rows", "head", "tail",
    "concepts covered"}}`` (head/tail: fraction of those concepts' rows kept; covered:
    fraction of concepts with at least one row kept); sections or values the audit lacks are left out."""
    if not isinstance(audit, dict):
        return {}
    sections = {}
    defects = audit.get("defects_kept")
    if isinstance(defects, dict):
        sections["defects"] = {str(k): float(v) for k, v in sorted(defects.items()) if _is_number(v)}
    concepts = {"all rows": audit.get("kept")}
    kept = audit.get("concepts_kept")
    if isinstance(kept, dict):
        concepts.update(head=kept.get("head"), tail=kept.get("tail"))
    concepts["concepts covered"] = audit.get("concepts_covered")
    concepts = {k: float(v) for k, v in concepts.items() if _is_number(v)}
    if len(concepts) > 1 or (concepts and sections):
        sections["concepts"] = concepts
    return {k: v for k, v in sections.items() if v}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def audit_table(runs: list[Run]) -> dict[str, pd.DataFrame]:
    """``{section: frame}`` with one row per (strategy, budget), one column per audited
    name, values averaged over the seeds whose manifests carry an audit."""
    records: dict[str, list[dict]] = {}
    for run in runs:
        audit = (run.manifest or {}).get("audit")
        for section, values in audit_sections(audit).items():
            records.setdefault(section, []).append(
                {"strategy": run.strategy, "budget": run.budget, **values})
    tables = {}
    for section, rows in records.items():
        frame = pd.DataFrame(rows)
        tables[section] = frame.groupby(["strategy", "budget"], sort=True).mean(numeric_only=True)
    return tables


def plot_audit(runs: list[Run], out_dir: Path) -> dict[str, Path]:
    """One grouped-bar PNG per audit section; ``{section: path}`` (empty without audits)."""
    made = {}
    for section, table in audit_table(runs).items():
        plt = _pyplot()
        names = list(table.columns)
        n = len(table)
        width = 0.8 / max(n, 1)
        fig, ax = plt.subplots(figsize=(max(7.0, 0.9 * len(names) + 0.2 * n), 4.0))
        x = np.arange(len(names))
        for i, ((strategy, budget), row) in enumerate(table.iterrows()):
            ax.bar(x + (i - (n - 1) / 2) * width, row.fillna(0.0).to_numpy(), width,
                   label=f"{strategy} @ {budget}")
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("fraction kept")
        ax.set_title(f"What each strategy kept: {section}")
        ax.legend(fontsize=7)
        made[section] = _save(fig, out_dir / f"audit_{_slug(section)}.png")
    return made


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "audit"


def _save(fig, path: Path) -> Path:
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2, wspace=0.3)
    fig.savefig(path, format="png", dpi=100, metadata=PNG_META)
    _pyplot().close(fig)
    return path
