"""``selbench ls strategies|scales|tasks``: what the registries and configs hold."""
from __future__ import annotations

import json

from harness.errors import SelbenchError


def main(cfg, words) -> int:
    """Print the requested listing as text or JSON (``format=json``); return 0."""
    if len(words) != 1 or words[0] not in ("strategies", "scales", "tasks"):
        raise SelbenchError("usage: selbench ls strategies|scales|tasks [format=text|json]")
    fmt = cfg.get("format", "text")
    if fmt not in ("text", "json"):
        raise SelbenchError(f"unknown format {fmt!r}: use text or json")
    what = words[0]
    if what == "strategies":
        from harness.select.listing import strategy_rows as rows_fn
        rows = rows_fn()
    elif what == "scales":
        from harness.train.scales import scale_rows as rows_fn
        rows = rows_fn()
    else:
        from harness.evaluate.tasks import task_rows
        rows = task_rows(cfg.get("suite", "tiny"))
    if fmt == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(format_rows(rows))
    return 0


def format_rows(rows: list[dict]) -> str:
    """Render a list of flat-ish dicts as an aligned text table."""
    if not rows:
        return "(none)"
    keys = list(rows[0])
    cells = [[_cell(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)
