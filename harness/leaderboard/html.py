"""A self-contained HTML leaderboard: inline CSS, plots embedded as base64 PNG, no URLs."""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from harness.leaderboard.reference import GROUP_COLUMNS

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}
tr.incomplete td{background:#fff4e0}
.note{color:#8a4b00}.meta{color:#666;font-size:.9em}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
"""
LEFT = {"strategy", "budget", "scale", "suite", "complete", "checkpoint", "source", "size", "size_of",
        "samples_seen", "model", "missing"}


def render_html(title: str, board: dict, sections: dict, plots: dict[str, Path],
                published: dict[str, pd.DataFrame]) -> str:
    """The whole page as a string.

    ``sections`` holds pre-formatted cell tables: ``{"summary": (header, rows, complete_flags),
    "runs": (...), "audit": {section: (header, rows)}}``; ``plots`` maps names to PNG files
    (embedded); ``published`` maps a reference-table title to its rows.
    """
    parts = [f"<h1>{_e(title)}</h1>", _meta(board)]
    parts += [f'<p class="note">* {_e(n)}</p>' for n in board["notes"]]
    parts.append("<h2>Summary (mean ± std over seeds)</h2>")
    parts.append(_table(*sections["summary"]))
    for heading, frame in published.items():
        parts.append(f"<h2>Published: {_e(heading)}</h2>")
        parts.append(_published(frame))
    if plots:
        parts.append("<h2>Plots</h2>")
        parts += [_image(name, path) for name, path in plots.items()]
    parts.append("<h2>Runs</h2>")
    parts.append(_table(*sections["runs"]))
    for name, (header, rows) in sections.get("audit", {}).items():
        parts.append(f"<h2>What each strategy kept: {_e(name)} (fraction, mean over seeds)</h2>")
        parts.append(_table(header, rows, [True] * len(rows)))
    parts.append('<p class="meta">Columns follow DataComp: ImageNet, mean of the ImageNet '
                 "distribution-shift tasks, mean of the VTAB tasks, mean of the retrieval "
                 "tasks, and the unweighted mean over all scored tasks. Std is the sample "
                 "standard deviation over seeds (ddof = 1). Scores are fractions in [0, 1].</p>")
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
            "</body>\n</html>\n")


def _meta(board: dict) -> str:
    return (f'<p class="meta">suite <b>{_e(board["suite"])}</b> · scale '
            f'<b>{_e(", ".join(board["scales"]))}</b> · {len(board["runs"])} runs · '
            f'{len(board["summary"])} (strategy, budget) groups</p>')


def _table(header: list[str], rows: list[list[str]], complete: list[bool]) -> str:
    head = "".join(f'<th class="{_side(h)}">{_e(h)}</th>' for h in header)
    body = []
    for row, ok in zip(rows, complete):
        cells = "".join(f'<td class="{_side(h)}">{_e(c)}</td>' for h, c in zip(header, row))
        body.append(f'<tr{"" if ok else " class=incomplete"}>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _published(frame: pd.DataFrame) -> str:
    header = [c for c in frame.columns]
    rows = [[_cell(r[c], c) for c in header] for r in frame.to_dict("records")]
    return _table(header, rows, [True] * len(rows))


def _cell(value, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column in GROUP_COLUMNS:
        return f"{float(value):.3f}"
    return str(value)


def _image(name: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{data}"></figure>'


def _side(header: str) -> str:
    return "l" if header in LEFT else "r"


def _e(text) -> str:
    return html.escape(str(text), quote=True)
