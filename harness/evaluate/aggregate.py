"""DataComp's aggregate scores from per-task main metrics.

As DataComp's ``aggregate_scores.py`` computes them (reference/datacomp.md):
ImageNet = the ImageNet task's main metric; "ImageNet dist. shifts", "VTAB" and "Retrieval" =
unweighted means over the tasks of that group; Average = unweighted mean over every scored
task of the suite (retrieval counts as its tasks). Unscored tasks (no main metric) never count.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from harness.errors import SelbenchError
from harness.evaluate.tasks import GROUPS, Task, load_suite

COLUMNS = (*GROUPS, "Average")


def aggregate(main_metrics: Mapping[str, float | None], suite: str | Sequence[Task]) -> dict:
    """Aggregate ``{task key: main metric}`` over ``suite`` (a name or its tasks).

    Returns ``{"ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval", "Average": float|None,
    "complete": bool, "missing": [keys], "num_tasks": int}``. A group (or the Average) is None
    when any of its scored tasks is missing or has no value, so an incomplete suite is never
    averaged silently. Keys that are not tasks of the suite are an error.
    """
    tasks = load_suite(suite) if isinstance(suite, str) else list(suite)
    by_key = {t.key: t for t in tasks}
    unknown = sorted(k for k in main_metrics if k not in by_key)
    if unknown:
        raise SelbenchError(f"results for tasks outside suite {tasks[0].suite!r}: {', '.join(unknown)}")
    scored = [t for t in tasks if t.scored]
    values = {t.key: _value(main_metrics.get(t.key)) for t in scored}
    missing = [k for k, v in values.items() if v is None]
    out: dict = {}
    for group in GROUPS:
        members = [t.key for t in scored if t.group == group]
        out[group] = _mean([values[k] for k in members])
    out["Average"] = _mean(list(values.values()))
    out.update(complete=not missing, missing=missing, num_tasks=len(scored))
    return out


def _value(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def _mean(values: list[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)
