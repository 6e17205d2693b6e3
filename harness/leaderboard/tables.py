"""Leaderboard tables: one row per run, a summary per (scale, strategy, budget), and their
renderings as aligned text and Markdown.

Group scores come from ``harness.evaluate.aggregate.aggregate`` (DataComp's rules). A run
with missing tasks keeps ``complete = False`` and the names of the missing tasks; a summary
column is a mean over seeds only when every seed has that column, otherwise it is empty.
"""
from __future__ import annotations

import math

import pandas as pd

from harness.errors import SelbenchError
from harness.leaderboard.runs import Run

COLUMNS = ("ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval", "Average")
RUN_KEYS = ("scale", "suite", "strategy", "budget", "seed")
GROUP_KEYS = ("scale", "suite", "strategy", "budget")


def run_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: identity, the five DataComp columns, ``complete``, ``missing``
    (task keys joined by ``;``), ``n_tasks``, subset and checkpoint sha256."""
    from harness.evaluate.aggregate import aggregate
    from harness.evaluate.tasks import load_suite

    rows, suites = [], {}
    for run in runs:
        try:
            if run.suite not in suites:
                suites[run.suite] = load_suite(run.suite)
            agg = aggregate(dict(run.metrics), suites[run.suite])
        except SelbenchError as exc:
            raise SelbenchError(f"{run.files[0]}: {exc}") from exc
        complete, missing = completeness(agg)
        row = {"scale": run.scale, "suite": run.suite, "strategy": run.strategy,
               "budget": run.budget, "seed": run.seed}
        for col in COLUMNS:
            row[col] = _number(agg.get(col))
        row.update(complete=complete, missing=";".join(missing), n_tasks=len(run.metrics),
                   subset_sha256=run.subset_sha256 or "", checkpoint_sha256=run.checkpoint_sha256 or "")
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*RUN_KEYS, *COLUMNS, "complete", "missing", "n_tasks",
                                        "subset_sha256", "checkpoint_sha256"])
    return frame.sort_values(list(RUN_KEYS), key=_natural_key, kind="stable", ignore_index=True)


def completeness(agg: dict) -> tuple[bool, list[str]]:
    """(complete, missing task keys) from an ``aggregate`` result."""
    missing = sorted(str(k) for k in (agg.get("missing") or []))
    complete = bool(agg.get("complete", not missing))
    return complete and not missing, missing


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof=1; empty for one seed) of each column over
    the seeds of each (scale, suite, strategy, budget); sorted by mean Average, best first.
    A column is empty when any seed lacks it; ``complete`` is true only if every seed is."""
    rows = []
    for keys, group in runs.groupby(list(GROUP_KEYS), sort=False):
        row = dict(zip(GROUP_KEYS, keys))
        row["n_seeds"] = len(group)
        row["seeds"] = ";".join(str(s) for s in group["seed"])
        for col in COLUMNS:
            values = group[col].astype(float)
            have_all = not values.isna().any()
            row[col] = float(values.mean()) if have_all else math.nan
            row[f"{col} std"] = float(values.std(ddof=1)) if have_all and len(values) > 1 else math.nan
        row["complete"] = bool(group["complete"].all())
        row["missing"] = ";".join(sorted({m for ms in group["missing"] for m in ms.split(";") if m}))
        rows.append(row)
    columns = [*GROUP_KEYS, "n_seeds", "seeds"]
    columns += [c for col in COLUMNS for c in (col, f"{col} std")] + ["complete", "missing"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["_avg"] = frame["Average"].fillna(-math.inf)
    frame = frame.sort_values(["_avg", "strategy", "budget"], ascending=[False, True, True],
                              kind="stable", ignore_index=True)
    return frame.drop(columns="_avg")


def format_text_table(board: dict, runs: bool = False, digits: int = 3) -> str:
    """Render a leaderboard (the dict ``build_leaderboard`` returns) as aligned text:
    the summary (mean ± std over seeds), optionally the per-run rows, and notes naming the
    missing tasks of incomplete rows."""
    summary = pd.DataFrame(board["summary"])
    several = len(board["scales"]) > 1  # then each row names its scale
    header = ["strategy", "budget", *(["scale"] if several else []), "seeds", *COLUMNS]
    body = [[r["strategy"], r["budget"], *([r["scale"]] if several else []), str(r["n_seeds"]),
             *(_mean_std(r[c], r[f"{c} std"], digits) for c in COLUMNS)]
            for r in summary.to_dict("records")]
    marks = [("" if r["complete"] else " *") for r in summary.to_dict("records")]
    lines = [f"leaderboard: suite {board['suite']}, scale {', '.join(board['scales'])}"]
    lines += _aligned(header, body, marks)
    if runs:
        table = pd.DataFrame(board["runs"])
        rows = [[r["strategy"], r["budget"], *([r["scale"]] if several else []), str(r["seed"]),
                 *(_fmt(r[c], digits) for c in COLUMNS)] for r in table.to_dict("records")]
        lines += ["", *_aligned(["strategy", "budget", *(["scale"] if several else []), "seed", *COLUMNS], rows,
                                [("" if r["complete"] else " *") for r in table.to_dict("records")])]
    lines += [f"* {note}" for note in incomplete_notes(summary)]
    return "\n".join(lines)


def incomplete_notes(summary: pd.DataFrame) -> list[str]:
    """One line per incomplete (strategy, budget) naming its missing tasks."""
    return [f"{r['strategy']} budget={r['budget']}: incomplete suite, missing {r['missing'].replace(';', ', ')}"
            for r in summary.to_dict("records") if not r["complete"]]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table (cells escaped for ``|``)."""
    esc = [[str(c).replace("|", "\\|") for c in row] for row in [header, *rows]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in esc[1:]]
    return "\n".join(lines)


def summary_cells(summary: pd.DataFrame, digits: int = 3) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the summary table (incomplete rows end with ``*``)."""
    header = ["strategy", "budget", "scale", "seeds", *COLUMNS, "complete"]
    rows = [[r["strategy"], r["budget"], r["scale"], str(r["n_seeds"]),
             *(_mean_std(r[c], r[f"{c} std"], digits) for c in COLUMNS),
             "yes" if r["complete"] else "no *"] for r in summary.to_dict("records")]
    return header, rows


def run_cells(runs: pd.DataFrame, digits: int = 3) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the per-run table."""
    header = ["strategy", "budget", "seed", "scale", *COLUMNS, "complete", "checkpoint"]
    rows = [[r["strategy"], r["budget"], str(r["seed"]), r["scale"],
             *(_fmt(r[c], digits) for c in COLUMNS), "yes" if r["complete"] else "no *",
             (r["checkpoint_sha256"] or "")[:12]] for r in runs.to_dict("records")]
    return header, rows


def _aligned(header: list[str], rows: list[list[str]], marks: list[str]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    right = {i for i, h in enumerate(header) if h in COLUMNS or h in ("seeds", "seed")}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r).rstrip() + m for r, m in zip(rows, marks)]
    return out


def _fmt(value, digits: int) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _mean_std(mean, std, digits: int) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _number(value) -> float:
    return math.nan if value is None else float(value)


def _natural_key(column: pd.Series) -> pd.Series:
    """Sort seeds numerically when they are numbers (2 before 10)."""
    if column.name != "seed":
        return column
    return column.map(lambda s: (0, int(s), "") if str(s).lstrip("-").isdigit() else (1, 0, str(s)))
