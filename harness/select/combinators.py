"""Combinators: strategies built from two other strategies, registered like any method.

An operand is a mapping ``{name: STRATEGY, budget: {...}, PARAM: VALUE, ...}`` (on the
command line: ``strategy.a.name=clip_score strategy.a.budget.fraction=0.3``). Its optional
``budget`` (fraction/count/threshold of the WHOLE pool, or none) is the operand's own
cut; without one the operand keeps its natural size.

- ``intersect(a, b)``: rows kept by both; ``union(a, b)``: rows kept by either. Under
  ``budget=natural`` that set is the result (DataComp's "image-based ∩ CLIP score"); under a
  count or fraction the set must hold at least that many rows and the top ones by the
  scores of operand ``rank_by`` are kept.
- ``then(a, b)``: a keeps its top ``a_fraction`` of the whole pool, b ranks those survivors
  and the budget counts on the whole pool (the NormSim paper's sequential recipe).

``then_select`` is the reusable core of ``then`` for composite methods.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from harness.errors import SelbenchError
from harness.select.base import (Scorer, SelectionContext, SetSelector, Strategy, strategy,
                                 top_k_mask)
from harness.select.budget import Budget, budget_from_mapping, check_budget
from harness.select.engine import (build_strategy, pool_uids, score_pool, scores_to_mask,
                                   select_mask)


def then_select(pool, a: Strategy, a_fraction: float, b: Scorer, k: int | None,
                uids: np.ndarray | None = None, *, threshold: float | None = None,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Sequential selection: a's top ``a_fraction`` of the pool, then the best of those by b.

    ``a`` is a scorer (exact top round(a_fraction * N), ties by uid) or a set selector (run
    under that fraction); ``b`` is a scorer whose scores rank a's survivors. Keeps exactly
    ``k`` rows (a count on the whole pool), or with ``k=None`` the survivors scoring
    ``>= threshold``, or with both None b's natural cut. Returns a bool mask in pool order.
    Operands run with their own ``context`` (executor, progress, seed).
    """
    if not isinstance(b, Scorer):
        raise SelbenchError(f"then: b ({b.name}) must be a scorer: it ranks a's survivors")
    uids = pool_uids(pool) if uids is None else uids
    rng = rng if rng is not None else np.random.Generator(np.random.PCG64(_seed(a)))
    survivors = select_mask(a, pool, Budget(fraction=float(a_fraction)), uids, rng)
    scores = score_pool(b, pool, _executor(b), _progress(b))
    idx = np.flatnonzero(survivors)
    mask = np.zeros(len(uids), dtype=bool)
    if k is not None:
        if k > len(idx):
            raise SelbenchError(f"then: the budget asks for {k} rows but a ({a.name}) keeps only "
                                f"{len(idx)} (a_fraction={a_fraction})")
        mask[idx[top_k_mask(scores[idx], uids[idx], int(k))]] = True
    elif threshold is not None:
        mask[idx] = scores[idx] >= threshold
    else:
        mask[idx] = np.asarray(b.natural_mask(scores), dtype=bool)[idx]
    return mask


@dataclass
class PairParams:
    """Two operands and which one ranks the combined set under a count/fraction budget."""

    a: dict = field(default_factory=dict)  # {name: STRATEGY, budget: {...}, PARAM: VALUE}
    b: dict = field(default_factory=dict)
    rank_by: str = "b"  # "a" or "b": whose scores order the combined set (must be a scorer)


@dataclass
class ThenParams:
    """``a`` keeps its top ``a_fraction`` of the pool; ``b`` ranks the survivors."""

    a: dict = field(default_factory=dict)  # {name: STRATEGY, PARAM: VALUE}
    b: dict = field(default_factory=dict)  # a scorer
    a_fraction: float = 0.3


class _Combinator(SetSelector):
    """Shared machinery: builds both operands in sub-contexts of this strategy's context."""

    def __init__(self, params=None, context: SelectionContext | None = None):
        super().__init__(params, context)
        self.a = self.b = None
        self.budget_a = self.budget_b = None
        if context is not None:
            self.a, self.budget_a = self._operand("a", self.params.a)
            self.b, self.budget_b = self._operand("b", self.params.b)
            self.columns = tuple(dict.fromkeys(self.a.columns + self.b.columns))

    def _operand(self, label: str, spec: Mapping) -> tuple[Strategy, Budget | None]:
        spec = dict(spec or {})
        name = spec.pop("name", None)
        if not name:
            raise SelbenchError(f"{self.name}: strategy.{label}.name is required "
                                f"(e.g. strategy.{label}.name=clip_score)")
        budget = spec.pop("budget", None)
        budget = None if budget is None else budget_from_mapping(budget)
        ctx = self.context
        sub = SelectionContext(pool=ctx.pool, seed=ctx.seed, embedding=ctx.embedding,
                               workers=ctx.workers, executor=ctx.executor, progress=ctx.progress)
        return build_strategy(name, spec, sub), budget

    def identity_version(self) -> str:
        """This combinator's version with both operands' (a changed operand recomputes too)."""
        if self.a is None:
            return type(self).version
        return f"{type(self).version}(a={self.a.identity_version()},b={self.b.identity_version()})"

    def input_files(self, pool) -> list:
        """Both operands' input files."""
        return [] if self.a is None else self.a.input_files(pool) + self.b.input_files(pool)

    def embedding_keys(self) -> list[str]:
        """The npz keys both operands read."""
        return list(dict.fromkeys(self.a.embedding_keys() + self.b.embedding_keys()))

    def _record(self, **counts) -> None:
        self.context.extra.update({"a": self.a.context.extra, "b": self.b.context.extra,
                                   **{k: int(v) for k, v in counts.items()}})


class _SetCombinator(_Combinator):
    Params = PairParams

    def combine(self, mask_a: np.ndarray, mask_b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Both operands under their own budgets, combined; cut to the budget by ``rank_by``."""
        if self.params.rank_by not in ("a", "b"):
            raise SelbenchError(f"{self.name}: rank_by must be a or b, got {self.params.rank_by!r}")
        if budget.threshold is not None:
            raise SelbenchError(f"{self.name}: budget.threshold is not defined for a combination; "
                                "put thresholds into the operands (strategy.a.budget.threshold=X)")
        uids = pool_uids(pool)
        masks, scores = {}, {}
        for label, op, own in (("a", self.a, self.budget_a), ("b", self.b, self.budget_b)):
            try:
                masks[label], scores[label] = _run_operand(op, own or Budget(natural=True),
                                                           pool, uids, self.context.seed)
            except SelbenchError as exc:
                raise SelbenchError(f"{self.name}: operand {label} ({op.name}): {exc}") from exc
        scores = {k: v for k, v in scores.items() if v is not None}
        combined = self.combine(masks["a"], masks["b"])
        self._record(a_kept=masks["a"].sum(), b_kept=masks["b"].sum(), combined=combined.sum())
        k = budget.target(len(uids))
        if k is None:
            return combined
        return self._cut(combined, k, scores, uids)

    def _cut(self, combined, k, scores, uids) -> np.ndarray:
        idx = np.flatnonzero(combined)
        if len(idx) < k:
            raise SelbenchError(f"{self.name}: the budget asks for {k} rows but the combination "
                                f"keeps only {len(idx)}")
        if len(idx) == k:
            return combined
        ranker = self.params.rank_by
        if ranker not in scores:
            raise SelbenchError(f"{self.name}: rank_by={ranker} must name a scorer to cut "
                                f"{len(idx)} rows to {k}")
        mask = np.zeros(len(uids), dtype=bool)
        mask[idx[top_k_mask(scores[ranker][idx], uids[idx], k)]] = True
        return mask


@strategy("intersect")
class Intersect(_SetCombinator):
    """Rows kept by both a and b (each under its own budget); cut to the budget by rank_by."""

    version = "1"

    def combine(self, mask_a, mask_b):
        return mask_a & mask_b


@strategy("union")
class Union(_SetCombinator):
    """Rows kept by a or b (each under its own budget); cut to the budget by rank_by."""

    version = "1"

    def combine(self, mask_a, mask_b):
        return mask_a | mask_b


@strategy("then")
class Then(_Combinator):
    """a keeps its top a_fraction of the pool, then b ranks the survivors (budget on the pool)."""

    version = "1"

    Params = ThenParams
    accepts_threshold = True  # b's score >= threshold among a's survivors

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """``then_select`` under the engine's budget."""
        n_rows = pool.num_rows
        mask = then_select(pool, self.a, self.params.a_fraction, self.b, budget.target(n_rows),
                           threshold=budget.threshold, rng=rng)
        self._record(a_kept=Budget(fraction=self.params.a_fraction).target(n_rows),
                     combined=mask.sum())
        return mask

    def _operand(self, label, spec):
        strat, own = super()._operand(label, spec)
        if own is not None:
            raise SelbenchError(f"then: strategy.{label}.budget is not used; a keeps "
                                "a_fraction of the pool and the budget applies to the result")
        return strat, own


def _run_operand(op: Strategy, budget: Budget, pool, uids, seed: int):
    """(mask, scores or None) of one operand under its own budget."""
    if isinstance(op, Scorer):
        check_budget(budget, len(uids))
        scores = score_pool(op, pool, op.context.executor, op.context.progress)
        mask = scores_to_mask(op, scores, uids, budget)
        if not mask.any():
            raise SelbenchError(f"keeps no row under its budget {budget.describe()}")
        return mask, scores
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    return select_mask(op, pool, budget, uids, rng), None


def _executor(s: Strategy):
    return s.context.executor if s.context is not None else None


def _progress(s: Strategy):
    return s.context.progress if s.context is not None else False


def _seed(s: Strategy) -> int:
    return s.context.seed if s.context is not None else 0
