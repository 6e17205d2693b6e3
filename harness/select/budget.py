"""Budgets, in one place: the ``Budget`` type, parsing it from configuration (a mapping for
``selbench select``, a label for ``selbench run``) and checking it against a pool.

The method's own size has one name everywhere: ``natural`` (``budget=natural`` on the
command line, ``Budget.natural``, ``{"natural": true}`` in manifests, the folder
``budget-natural`` and the leaderboard label ``natural``). The older spelling ``none``
is still accepted on input and in existing run folders.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

from harness.errors import SelbenchError

NATURAL = "natural"
OLD_NATURAL = ("none",)  # earlier spelling, accepted on input only
BUDGET_HELP = "set one of budget.fraction=F, budget.count=K, budget.threshold=X or budget=natural"


@dataclass
class Budget:
    """How many rows to keep: a fraction or count of the pool, a score threshold, or natural.

    Exactly one of ``fraction``, ``count``, ``threshold`` is set, or ``natural`` is true.
    """

    fraction: float | None = None
    count: int | None = None
    threshold: float | None = None
    natural: bool = False

    def target(self, pool_rows: int) -> int | None:
        """Rows to select for a pool of ``pool_rows`` rows; ``None`` for threshold/natural."""
        if self.count is not None:
            return int(self.count)
        if self.fraction is not None:
            return int(round(self.fraction * pool_rows))
        return None

    def describe(self) -> dict:
        """A plain dict for manifests."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, False)}


def is_natural_word(value) -> bool:
    """True when ``value`` spells the method's own size (``natural``, or the old ``none``)."""
    return isinstance(value, str) and value.strip().lower() in (NATURAL, *OLD_NATURAL)


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


def budget_from_label(label) -> Budget:
    """A ``Budget`` from a sweep label: ``natural``, a fraction (<= 1) or a count (> 1).

    A label is turned into the mapping ``selbench select`` takes and parsed by
    ``budget_from_mapping``, so ``1.5`` is refused exactly as ``budget.count=1.5`` is.
    """
    if is_natural_word(label):
        return Budget(natural=True)
    value = _number(label, "fraction")
    if value is not None and value > 1:
        return budget_from_mapping({"count": _numeric(label) if isinstance(label, str) else label})
    budget = budget_from_mapping({"fraction": value})
    check_mode(budget)
    return budget


def budget_label(label) -> str:
    """The canonical sweep label of ``label`` (``natural`` for the own size, else as given)."""
    return NATURAL if is_natural_word(label) else str(label)


def check_mode(budget: Budget) -> None:
    """Check what can be checked without a pool: one mode, a fraction in (0, 1], a count >= 1."""
    modes = [m for m in ("fraction", "count", "threshold") if getattr(budget, m) is not None]
    modes += ["natural"] if budget.natural else []
    if len(modes) != 1:
        got = ", ".join(modes) if modes else "none"
        raise SelbenchError(f"exactly one budget mode is needed (got: {got}); {BUDGET_HELP}")
    if budget.fraction is not None and not 0 < budget.fraction <= 1:
        raise SelbenchError(f"budget.fraction={budget.fraction} is outside (0, 1]")


def check_budget(budget: Budget, pool_rows: int) -> int | None:
    """Check ``budget`` against a pool of ``pool_rows`` rows; return the exact target or None.

    Exactly one mode must be set; a count must be in [1, rows]; a fraction in (0, 1] and
    large enough to keep at least one row. Raises ``SelbenchError`` (one line) otherwise.
    """
    check_mode(budget)
    if pool_rows <= 0:
        raise SelbenchError("the pool has no rows")
    if budget.count is not None and not 0 < budget.count <= pool_rows:
        raise SelbenchError(f"budget.count={budget.count} is outside 1..{pool_rows} "
                            f"(the pool has {pool_rows} rows)")
    if budget.fraction is not None and budget.target(pool_rows) < 1:
        raise SelbenchError(f"budget.fraction={budget.fraction} of {pool_rows} rows "
                            "keeps no row")
    return budget.target(pool_rows)


def _numeric(text: str):
    """``text`` as an int when it spells one, else as a float (for the count check)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


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
