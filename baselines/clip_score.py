"""DataComp's CLIP score filter (Hessel et al.): score_i = f_i · g_i of the teacher's embeddings.

Where the scores come from (``strategy.source``):

- ``auto`` (default): the metadata column ``clip_<arch>_similarity_score`` when the pool's
  parquet has it (DataComp's pools do: one column is read, no ``.npz``), else ``f · g``
  recomputed from the ``<arch>_img``/``<arch>_txt`` embeddings;
- ``column``: the column, and an error when it is missing;
- ``embeddings``: always recompute from the embeddings (DataComp's released embeddings are
  fp16, so a recomputed score can differ from the stored float32 one in the last digits,
  which moves rows across a cut-off).

Which rows are kept:

- ``budget.count`` / ``budget.fraction``: exactly k rows (k = count, or round(f·N)), the k
  highest scores, ties broken by uid;
- ``budget.threshold=X``: every row with ``score >= X`` (DataComp's threshold mode);
- DataComp's fraction rule, ``strategy.datacomp_fraction=f`` with ``budget=natural``
  (or ``budget=natural``): DataComp's ``load_uids_with_clip_score`` turns f into ONE global
  threshold, the value at index int(N·f) of the scores sorted descending, and keeps
  ``score >= threshold``: int(N·f)+1 rows, plus any rows tied with the threshold. The
  threshold is recorded in the manifest (``extra.datacomp_threshold``). Combined with a
  count, fraction or threshold budget this parameter is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from harness.errors import SelbenchError
from harness.select.base import Budget, Scorer, fraction_threshold, strategy

SOURCES = ("auto", "column", "embeddings")


def score_column(arch: str) -> str:
    """DataComp's metadata column holding the CLIP score of embedding ``arch`` (e.g. l14)."""
    return f"clip_{arch}_similarity_score"


@dataclass
class ClipScoreParams:
    """Which scores to use, and DataComp's fraction rule."""

    embedding: str | None = None  # arch prefix (l14, b32, ...); None = the pool's default
    source: str = "auto"  # auto | column | embeddings (see the module docstring)
    datacomp_fraction: float | None = None  # with budget=natural: DataComp's global-threshold rule


@strategy("clip_score")
class ClipScore(Scorer):
    """CLIPScore f·g: the stored score column (or recomputed); top-k, threshold or DataComp's rule."""

    version = "1"

    Params = ClipScoreParams
    embeddings = ("img", "txt")

    def __init__(self, params=None, context=None):
        super().__init__(params, context)
        if self.params.source not in SOURCES:
            raise SelbenchError(f"clip_score: strategy.source={self.params.source!r} is not one of "
                                f"{', '.join(SOURCES)}")
        f = self.params.datacomp_fraction
        if f is not None and not 0 < f < 1:
            raise SelbenchError(f"clip_score: strategy.datacomp_fraction={f} is outside (0, 1)")
        self._use_column: bool | None = None

    # ----- where the scores come from ------------------------------------------------
    def uses_column(self) -> bool:
        """True when scores are read from ``clip_<arch>_similarity_score`` (decided once)."""
        if self._use_column is None:
            source = self.params.source
            if source == "embeddings":
                self._use_column = False
            else:
                pool = self.context.pool if self.context is not None else None
                has = pool is not None and score_column(self.arch) in pq.read_schema(
                    pool.shards[0].parquet).names
                if source == "column" and not has:
                    where = pool.shards[0].parquet if pool is not None else "the pool"
                    raise SelbenchError(f"{where}: column {score_column(self.arch)} is missing "
                                        "(strategy.source=column); use strategy.source=auto or embeddings")
                self._use_column = has
        return self._use_column

    @property
    def columns(self) -> tuple[str, ...]:
        """The score column when it is read, else none."""
        return (score_column(self.arch),) if self.uses_column() else ()

    def embedding_keys(self) -> list[str]:
        """``<arch>_img``/``<arch>_txt`` when recomputing, else none (no ``.npz`` is opened)."""
        return [] if self.uses_column() else super().embedding_keys()

    def prepare(self, pool) -> None:
        """Decide the score source and record it in the manifest."""
        if self.context is not None:
            self.context.extra["score_source"] = (f"column {score_column(self.arch)}"
                                                  if self.uses_column()
                                                  else f"recomputed from {self.arch}_img . {self.arch}_txt")

    # ----- scores and masks ----------------------------------------------------------
    def score(self, shard) -> np.ndarray:
        """The stored column as it is stored (float32 or float64), or row-wise f·g (float32)."""
        if self.uses_column():
            col = np.asarray(shard.columns[score_column(self.arch)])
            if col.dtype not in (np.float32, np.float64):
                col = col.astype(np.float64)
            if not np.isfinite(col).all():
                row = int(np.argmin(np.isfinite(col)))
                raise SelbenchError(f"{shard.files.parquet}: {score_column(self.arch)} row {row} "
                                    "is missing or not finite")
            return col
        out = np.empty(len(shard.uids), dtype=np.float32)
        for start, (f, g) in self.emb_blocks(shard, "img", "txt"):
            out[start:start + len(f)] = np.einsum("ij,ij->i", f, g)
        return out

    def check_budget(self, budget) -> None:
        """Refuse ``datacomp_fraction`` with any budget but ``natural``, and ``natural`` without it."""
        if budget.natural and self.params.datacomp_fraction is None:
            raise SelbenchError("clip_score has no natural size: use budget.fraction, budget.count, "
                                "budget.threshold, or strategy.datacomp_fraction=F (DataComp's rule)")
        if self.params.datacomp_fraction is not None and not budget.natural:
            raise SelbenchError("clip_score: strategy.datacomp_fraction is DataComp's own-size rule; "
                                "use it with budget=natural (not with a fraction, count or threshold)")

    def natural_threshold(self, rows: int, kth_score) -> float:
        """DataComp's rule as a threshold: the value at index int(N·f) of the scores sorted
        descending (``kth_score`` is 1-based), recorded as ``datacomp_threshold``."""
        f = self.params.datacomp_fraction
        if f is None:
            self.check_budget(Budget(natural=True))  # raises: no natural size without it
        threshold = float(kth_score(min(int(rows * f), rows - 1) + 1))
        if self.context is not None:
            self.context.extra["datacomp_threshold"] = threshold
        return threshold

    def natural_mask(self, scores: np.ndarray) -> np.ndarray:
        """DataComp's rule: ``score >= `` the value at index int(N·f) of the scores sorted descending."""
        f = self.params.datacomp_fraction
        if f is None:
            self.check_budget(Budget(natural=True))  # raises: no natural size without it
        threshold = fraction_threshold(scores, f)
        if self.context is not None:
            self.context.extra["datacomp_threshold"] = threshold
        return np.asarray(scores) >= threshold
