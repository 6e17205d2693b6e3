"""DataComp's ``no_filter`` baseline: every uid of the pool."""
from __future__ import annotations

import numpy as np

from harness.errors import SelbenchError
from harness.select.base import Budget, NoParams, SetSelector, strategy


@strategy("no_filter")
class NoFilter(SetSelector):
    """Keeps the whole pool (use budget=natural or budget.fraction=1; smaller budgets are refused)."""

    version = "1"

    Params = NoParams

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """All rows; raises when the budget asks for fewer rows than the pool has."""
        n = pool.num_rows
        target = budget.target(n)
        if target is not None and target != n:
            raise SelbenchError(f"no_filter keeps the whole pool ({n} rows) but the budget asks "
                                f"for {target}; use budget=natural or budget.fraction=1")
        return np.ones(n, dtype=bool)
