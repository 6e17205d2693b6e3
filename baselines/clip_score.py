"""DataComp's CLIP score filter (Hessel et al.): score_i = f_i · g_i of the teacher's embeddings.

Under a count or fraction budget the engine keeps the exact top k (ties by uid); under
``budget.threshold=X`` it keeps ``score >= X`` (DataComp's threshold mode; DataComp's
fraction f corresponds to the threshold ``fraction_threshold(scores, f)``, which the
manifest records as ``scores.datacomp_threshold``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.select.base import Scorer, strategy


@dataclass
class ClipScoreParams:
    """Which embeddings to score."""

    embedding: str | None = None  # arch prefix of <arch>_img/<arch>_txt; None = the pool's


@strategy("clip_score")
class ClipScore(Scorer):
    """CLIPScore f·g of the image and text embeddings; top-k or score >= threshold."""

    Params = ClipScoreParams
    embeddings = ("img", "txt")

    def score(self, shard) -> np.ndarray:
        """Row-wise dot product of ``<arch>_img`` and ``<arch>_txt`` (float32), in row blocks."""
        out = np.empty(len(shard.uids), dtype=np.float32)
        for start, (f, g) in self.emb_blocks(shard, "img", "txt"):
            out[start:start + len(f)] = np.einsum("ij,ij->i", f, g)
        return out
