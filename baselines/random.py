"""The ``random`` baseline: a uniform, seeded sample of exactly the budget's rows."""
from __future__ import annotations

import numpy as np

from harness.errors import SelbenchError
from harness.select.base import Budget, NoParams, SetSelector, strategy


def random_mask(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Mask of ``k`` of ``n`` rows drawn without replacement: the first k of ``rng.permutation(n)``."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:k]] = True
    return mask


@strategy("random")
class RandomSample(SetSelector):
    """Uniform sample without replacement of exactly the budget's rows, seeded by seed."""

    version = "1"

    Params = NoParams

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """``random_mask`` with the engine's ``PCG64(seed)`` generator; needs a count or fraction."""
        n = pool.num_rows
        k = budget.target(n)
        if k is None:
            raise SelbenchError("random has no natural size: use budget.fraction or budget.count")
        return random_mask(n, k, rng)
