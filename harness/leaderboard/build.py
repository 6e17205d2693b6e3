"""Build a leaderboard directory from result files.

``build_leaderboard(result_files, out)`` writes into ``out``:

- ``leaderboard.csv``: one row per run (scale, suite, strategy, budget, seed, the five
  DataComp columns, ``complete``, ``missing``, ``n_tasks``, subset and checkpoint sha256);
- ``leaderboard_summary.csv``: one row per (scale, suite, strategy, budget): ``n_seeds``,
  each column's mean and ``<column> std`` over seeds, ``complete``, ``missing``;
- ``leaderboard_tasks.csv``: every task's main metric per run;
- ``leaderboard.md`` and a self-contained ``leaderboard.html``;
- ``plots/*.png``.

Everything is built in a staging directory first and renamed into place only when all of
it is built, so a bad input leaves the previous leaderboard untouched. Its name carries its
owner (``harness.io.owner_tag``): a rebuild removes the staging directories of a killed one.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import pandas as pd

from harness.io import owned_temp_dir, owner_tag, remove_stale
from harness.leaderboard import html as html_page
from harness.leaderboard.markdown import render_markdown
from harness.leaderboard.plots import audit_table, make_plots
from harness.leaderboard.reference import published_for_scale
from harness.leaderboard.runs import Run, find_result_files, load_runs
from harness.leaderboard.tables import (COLUMNS, format_text_table, incomplete_notes,
                                        run_cells, run_table, summary_cells, summary_table)

FILES = ("leaderboard.csv", "leaderboard_summary.csv", "leaderboard_tasks.csv",
         "leaderboard.md", "leaderboard.html")


def build_leaderboard(result_files: Iterable[str | Path], out: str | Path, title: str | None = None,
                      manifests: Iterable[str | Path] = (), digits: int = 3, plots: bool = True) -> dict:
    """Build the leaderboard of ``result_files`` (files, or directories scanned for
    ``eval_results.jsonl``) into ``out``; ``manifests`` are optional subset manifests
    (otherwise found from the run layout); ``plots=False`` skips the PNGs (``plots/`` is
    then left empty). Returns the board: ``suite``, ``scales``,
    ``runs`` and ``summary`` (lists of row dicts, NaN as None), ``notes``, ``complete``,
    ``files`` and ``plots`` (name -> path). Raises ``SelbenchError`` on bad input.
    """
    out = Path(out)
    runs = load_runs(find_result_files(result_files), manifests)
    run_frame = run_table(runs)
    summary = summary_table(run_frame)
    board = _board(run_frame, summary)
    title = title or f"selbench leaderboard: {board['suite']} suite, {', '.join(board['scales'])} scale"
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out, ".plots.old.", end="")  # a killed build's (owner dead)
    stage = owned_temp_dir(out.parent, f".{out.name}.staging.")
    try:
        made = _write_all(stage, title, board, runs, run_frame, summary, digits, plots)
        _move_into_place(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    board["files"] = {name: str(out / name) for name in FILES}
    board["plots"] = {name: str(out / "plots" / path.name) for name, path in made.items()}
    return board


def _board(run_frame: pd.DataFrame, summary: pd.DataFrame) -> dict:
    return {"suite": str(run_frame["suite"].iloc[0]),
            "scales": sorted(run_frame["scale"].unique().tolist()),
            "runs": _records(run_frame), "summary": _records(summary),
            "notes": incomplete_notes(summary), "complete": bool(summary["complete"].all())}


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _write_all(stage: Path, title: str, board: dict, runs: list[Run], run_frame: pd.DataFrame,
               summary: pd.DataFrame, digits: int, with_plots: bool) -> dict[str, Path]:
    run_frame.to_csv(stage / "leaderboard.csv", index=False)
    summary.to_csv(stage / "leaderboard_summary.csv", index=False)
    task_frame(runs).to_csv(stage / "leaderboard_tasks.csv", index=False)
    (stage / "plots").mkdir()
    plots = make_plots(runs, run_frame, summary, stage / "plots") if with_plots else {}
    sections = _sections(run_frame, summary, runs, digits)
    published = {}
    for scale in board["scales"]:
        for heading, frame in published_for_scale(scale).items():
            published[f"{heading}, scale {scale}" if len(board["scales"]) > 1 else heading] = frame
    (stage / "leaderboard.md").write_text(render_markdown(title, board, sections, plots, published))
    (stage / "leaderboard.html").write_text(html_page.render_html(title, board, sections, plots, published))
    return plots


def _sections(run_frame, summary, runs, digits) -> dict:
    s_header, s_rows = summary_cells(summary, digits)
    r_header, r_rows = run_cells(run_frame, digits)
    audit = {}
    for section, table in audit_table(runs).items():
        header = ["strategy", "budget", *table.columns]
        rows = [[s, b, *(("" if math.isnan(v) else f"{v:.{digits}f}") for v in row)]
                for (s, b), row in table.iterrows()]
        audit[section] = (header, rows)
    return {"summary": (s_header, s_rows, summary["complete"].tolist()),
            "runs": (r_header, r_rows, run_frame["complete"].tolist()), "audit": audit}


def task_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run (identity + one column per task key, main metric; empty if missing)."""
    tasks = sorted({k for r in runs for k in r.metrics})
    rows = [{"scale": r.scale, "suite": r.suite, "strategy": r.strategy, "budget": r.budget,
             "seed": r.seed, **{t: r.metrics.get(t, math.nan) for t in tasks}} for r in runs]
    return pd.DataFrame(rows, columns=["scale", "suite", "strategy", "budget", "seed", *tasks])


def _move_into_place(stage: Path, out: Path) -> None:
    """Rename the staged files onto ``out``; the plots directory is swapped whole."""
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        os.replace(stage / name, out / name)
    old = None
    if (out / "plots").exists():
        old = Path(tempfile.mkdtemp(prefix=f".plots.old.{owner_tag()}.", dir=out))
        os.replace(out / "plots", old / "plots")
    os.replace(stage / "plots", out / "plots")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


__all__ = ["build_leaderboard", "format_text_table", "task_frame", "COLUMNS"]
