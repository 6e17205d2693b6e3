"""The NormSim paper's best recipe (Wang et al., arXiv 2405.19547), sequential:

keep the top ``s_cliploss_fraction`` (30%) of the whole pool by s-CLIPLoss, then among those
keep the top k by NormSim_p, where k is the budget counted on the whole pool (the paper's
floor(budget x N); selbench's budgets give an exact count). Under ``budget.threshold=X``
the survivors with NormSim >= X are kept. Built on ``then_select`` (the core of ``then``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baselines.normsim import NormSim, NormSimParams
from baselines.s_cliploss import SCLIPLoss, SCLIPLossParams
from harness.errors import SelbenchError
from harness.select.base import Budget, SelectionContext, SetSelector, strategy
from harness.select.combinators import then_select


@dataclass
class SCLIPLossNormSimParams:
    """Parameters of both stages: s-CLIPLoss's batching, NormSim's norm and target."""

    embedding: str | None = None      # arch prefix for both stages; None = the pool's
    s_cliploss_fraction: float = 0.3  # share of the pool kept by s-CLIPLoss
    batch_size: int = 32768           # s-CLIPLoss batch size b
    num_batchings: int = 10           # s-CLIPLoss K
    temperature: float = 0.01         # s-CLIPLoss tau
    p: str = "inf"                    # NormSim norm: "2" or "inf"
    target: str | None = None         # NormSim targets: .npy path or suite name; None = pool's suite


@strategy("s_cliploss_normsim")
class SCLIPLossNormSim(SetSelector):
    """s-CLIPLoss top 30% of the pool, then the top budget of those by NormSim (the paper's recipe)."""

    version = "1"

    Params = SCLIPLossNormSimParams
    embeddings = ("img", "txt")
    accepts_threshold = True  # a threshold applies to the NormSim scores of the survivors

    def __init__(self, params=None, context=None):
        super().__init__(params, context)
        p = self.params
        if not 0 < p.s_cliploss_fraction <= 1:
            raise SelbenchError(f"s_cliploss_normsim: s_cliploss_fraction must be in (0, 1], "
                                f"got {p.s_cliploss_fraction}")
        self.first = SCLIPLoss(SCLIPLossParams(p.embedding, p.batch_size, p.num_batchings,
                                               p.temperature), self._sub_context())
        self.second = NormSim(NormSimParams(embedding=p.embedding, p=p.p, target=p.target),
                              self._sub_context())

    def _sub_context(self) -> SelectionContext | None:
        ctx = self.context
        if ctx is None:
            return None
        return SelectionContext(pool=ctx.pool, seed=ctx.seed, embedding=ctx.embedding,
                                workers=ctx.workers, executor=ctx.executor, progress=ctx.progress)

    def input_files(self, pool) -> list:
        """NormSim's target files."""
        return self.second.input_files(pool)

    def prepare(self, pool) -> None:
        """Load NormSim's targets early, so a missing target fails before s-CLIPLoss runs."""
        self.second.prepare(pool)

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Bool mask over the pool: exactly ``budget.target(N)`` rows (or NormSim >= threshold)."""
        k = budget.target(pool.num_rows)
        if k is None and budget.threshold is None:
            raise SelbenchError("s_cliploss_normsim needs budget.fraction, budget.count or "
                                "budget.threshold")
        kept = int(round(self.params.s_cliploss_fraction * pool.num_rows))
        if k is not None and k > kept:
            raise SelbenchError(f"s_cliploss_normsim: the budget asks for {k} rows but s-CLIPLoss keeps "
                                f"only {kept} (s_cliploss_fraction={self.params.s_cliploss_fraction})")
        try:
            mask = then_select(pool, self.first, self.params.s_cliploss_fraction, self.second, k,
                               threshold=budget.threshold, rng=rng)
        except SelbenchError as exc:
            raise SelbenchError(f"s_cliploss_normsim: {exc}") from exc
        if self.context is not None:
            self.context.extra.update(s_cliploss_kept=kept, normsim=self.second.context.extra if self.second.context else {})
        return mask
