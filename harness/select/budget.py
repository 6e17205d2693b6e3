"""Budgets: building them from configuration and checking them against a pool.

``Budget`` itself lives in ``harness.select.base`` (strategies import it from there).
"""
from __future__ import annotations

import math
from typing import Mapping

from harness.errors import SelbenchError
from harness.select.base import Budget

BUDGET_HELP = "set one of budget.fraction=F, budget.count=K, budget.threshold=X or budget=none"


def budget_from_mapping(cfg: Mapping | None) -> Budget:
    """A ``Budget`` from a mapping with keys fraction/count/threshold/natural (others refused)."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - {"fraction", "count", "threshold", "natural"})
    if unknown:
        raise SelbenchError(f"unknown budget key(s) {', '.join(unknown)}; {BUDGET_HELP}")
    natural = cfg.get("natural", False)
    if natural not in (True, False, None):
        raise SelbenchError(f"budget.natural must be true or false, got {natural!r}")
    return Budget(fraction=_number(cfg.get("fraction"), "fraction"),
                  count=_count(cfg.get("count")),
                  threshold=_number(cfg.get("threshold"), "threshold"),
                  natural=bool(natural))


def check_budget(budget: Budget, pool_rows: int) -> int | None:
    """Check ``budget`` against a pool of ``pool_rows`` rows; return the exact target or None.

    Exactly one mode must be set; a count must be in [1, rows]; a fraction in (0, 1] and
    large enough to keep at least one row. Raises ``SelbenchError`` (one line) otherwise.
    """
    modes = [m for m in ("fraction", "count", "threshold") if getattr(budget, m) is not None]
    modes += ["natural"] if budget.natural else []
    if len(modes) != 1:
        got = ", ".join(modes) if modes else "none"
        raise SelbenchError(f"exactly one budget mode is needed (got: {got}); {BUDGET_HELP}")
    if pool_rows <= 0:
        raise SelbenchError("the pool has no rows")
    if budget.count is not None and not 0 < budget.count <= pool_rows:
        raise SelbenchError(f"budget.count={budget.count} is outside 1..{pool_rows} "
                            f"(the pool has {pool_rows} rows)")
    if budget.fraction is not None:
        if not 0 < budget.fraction <= 1:
            raise SelbenchError(f"budget.fraction={budget.fraction} is outside (0, 1]")
        if budget.target(pool_rows) < 1:
            raise SelbenchError(f"budget.fraction={budget.fraction} of {pool_rows} rows "
                                "keeps no row")
    return budget.target(pool_rows)


def _number(value, key: str) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SelbenchError(f"budget.{key} must be a number, got {value!r}") from None
    if not math.isfinite(out) or isinstance(value, bool):
        raise SelbenchError(f"budget.{key} must be a finite number, got {value!r}")
    return out


def _count(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise SelbenchError(f"budget.count must be a whole number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SelbenchError(f"budget.count must be a whole number, got {value!r}") from None
