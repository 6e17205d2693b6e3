"""The leaderboard as Markdown (tables plus links to the PNG plots beside it)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from harness.leaderboard.reference import GROUP_COLUMNS
from harness.leaderboard.tables import markdown_table


def render_markdown(title: str, board: dict, sections: dict, plots: dict[str, Path],
                    published: dict[str, pd.DataFrame]) -> str:
    """The page as Markdown; same content as the HTML page, plots linked from ``plots/``."""
    lines = [f"# {title}", "",
             f"Suite `{board['suite']}`, scale {', '.join(board['scales'])}: "
             f"{len(board['runs'])} runs, {len(board['summary'])} (strategy, budget) groups. "
             "Scores are fractions in [0, 1]; std is the sample standard deviation over seeds.", ""]
    lines += [f"\\* {note}" for note in board["notes"]] + ([""] if board["notes"] else [])
    header, rows, _ = sections["summary"]
    lines += ["## Summary (mean ± std over seeds)", "", markdown_table(header, rows), ""]
    for heading, frame in published.items():
        cols = list(frame.columns)
        cells = [[_cell(r[c], c) for c in cols] for r in frame.to_dict("records")]
        lines += [f"## Published: {heading}", "", markdown_table(cols, cells), ""]
    if plots:
        lines += ["## Plots", ""]
        for name, path in plots.items():
            lines += [f"![{name}](plots/{Path(path).name})", ""]
    header, rows, _ = sections["runs"]
    lines += ["## Runs", "", markdown_table(header, rows), ""]
    for name, (header, rows) in sections.get("audit", {}).items():
        lines += [f"## What each strategy kept: {name} (fraction, mean over seeds)", "",
                  markdown_table(header, rows), ""]
    return "\n".join(lines)


def _cell(value, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.3f}" if column in GROUP_COLUMNS else str(value)
