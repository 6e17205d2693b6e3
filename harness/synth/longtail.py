"""Zipf-like concept frequencies (the pool's long tail)."""
from __future__ import annotations

import numpy as np


def zipf_probabilities(k: int, exponent: float) -> np.ndarray:
    """Probabilities ``p_r ~ 1 / r**exponent`` for ranks ``r = 1..k`` (sum 1)."""
    w = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** exponent
    return w / w.sum()


def concept_ranks(k: int, seed: int) -> np.ndarray:
    """Frequency rank (0 = most frequent) of each of ``k`` concepts, a permutation set by ``seed``."""
    order = np.random.default_rng([seed, 7001]).permutation(k)
    ranks = np.empty(k, dtype=np.int64)
    ranks[order] = np.arange(k)
    return ranks


def concept_probabilities(k: int, exponent: float, seed: int) -> np.ndarray:
    """Per-concept sampling probabilities: Zipf over the seeded ranking."""
    return zipf_probabilities(k, exponent)[concept_ranks(k, seed)]


def frequency_group(rank: np.ndarray, k: int) -> np.ndarray:
    """'head' (top third of ranks), 'mid' or 'tail' for each rank (-1 gives None)."""
    rank = np.asarray(rank)
    out = np.full(rank.shape, None, dtype=object)
    out[(rank >= 0) & (rank < k / 3)] = "head"
    out[(rank >= k / 3) & (rank < 2 * k / 3)] = "mid"
    out[rank >= 2 * k / 3] = "tail"
    return out
