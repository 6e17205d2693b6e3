"""s-CLIPLoss / negCLIPLoss (Wang et al., arXiv 2405.19547): the CLIP loss of a pair in a batch.

For a batch B holding sample i (sums include j = i) and the teacher's temperature tau::

    s_i(B) = f_i·g_i - (tau/2) * [ logsumexp_j (f_i·g_j / tau) + logsumexp_j (f_j·g_i / tau) ]

The score is the mean of s_i over ``num_batchings`` independent random batchings. As in the
reference code, batches are drawn *within each metadata shard*: batching k of shard S is a
permutation of S's rows from a generator seeded by (selection seed, shard stem, k), cut into
consecutive batches of ``batch_size`` rows (the last one smaller). Every sample is scored
(the reference code's 3% shard downsampling is not reproduced).

Speed and memory: each batch's b x b logit matrix is computed in tiles of at most
``TILE_ROWS x TILE_COLS`` float32 (a float32 GEMM through torch), and the row- and
column-wise log-sum-exps are accumulated across tiles, so memory is bounded by the shard's
stored embeddings plus one batch in float32 plus one tile, whatever ``batch_size`` is.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from harness.errors import SelbenchError
from harness.select.base import Scorer, strategy

TILE_ROWS = 1024
TILE_COLS = 4096
# A column whose tile sum (scaled by exp(-max row max)) falls below this is recomputed with
# its own shift, so the shared-shift shortcut never loses precision (see _tile_lse).
_MIN_SCALED_SUM = math.exp(-50.0)


@dataclass
class SCLIPLossParams:
    """Embeddings, batch size, number of batchings and temperature of s-CLIPLoss."""

    embedding: str | None = None  # arch prefix of <arch>_img/<arch>_txt; None = the pool's
    batch_size: int = 32768       # b: rows per random batch (the last batch of a shard is smaller)
    num_batchings: int = 10       # K: independent random batchings averaged
    temperature: float = 0.01     # tau of the teacher (0.01 for OpenAI CLIP B/32, L/14)


@strategy("s_cliploss")
class SCLIPLoss(Scorer):
    """s-CLIPLoss (negCLIPLoss): tau x minus the pair's CLIP loss in random batches, mean over K."""

    version = "1"

    Params = SCLIPLossParams
    embeddings = ("img", "txt")

    def __init__(self, params=None, context=None):
        super().__init__(params, context)
        check_params(self.params)

    def score(self, shard) -> np.ndarray:
        """float32 s-CLIPLoss of every row of ``shard`` (mean over the K batchings)."""
        f = stored_finite(shard, f"{self.arch}_img")
        g = stored_finite(shard, f"{self.arch}_txt")
        seed = self.context.seed if self.context is not None else 0
        perms = [batching_permutation(seed, shard.files.stem, k, len(f))
                 for k in range(self.params.num_batchings)]
        return shard_scores(f, g, self.params.temperature, self.params.batch_size, perms)


def check_params(params) -> None:
    """Raise a one-line ``SelbenchError`` unless batch size, K and temperature are positive."""
    if int(params.batch_size) < 1:
        raise SelbenchError(f"s_cliploss: batch_size must be >= 1, got {params.batch_size}")
    if int(params.num_batchings) < 1:
        raise SelbenchError(f"s_cliploss: num_batchings must be >= 1, got {params.num_batchings}")
    if not (math.isfinite(params.temperature) and params.temperature > 0):
        raise SelbenchError(f"s_cliploss: temperature must be > 0, got {params.temperature}")


def stored_finite(shard, key: str) -> np.ndarray:
    """The shard's ``key`` embeddings in their stored dtype; one-line error on a non-finite row."""
    from harness.select.embeddings import check_stored_finite

    return check_stored_finite(shard, key)


def batching_permutation(seed: int, stem: str, k: int, n: int) -> np.ndarray:
    """The row order of batching ``k`` of shard ``stem`` (``n`` rows) under selection ``seed``."""
    key = [int(seed) % (1 << 63), zlib.crc32(str(stem).encode("utf-8")), int(k)]
    return np.random.Generator(np.random.PCG64(key)).permutation(n)


def shard_scores(f: np.ndarray, g: np.ndarray, tau: float, batch_size: int,
                 perms: list[np.ndarray]) -> np.ndarray:
    """Mean over ``perms`` of the per-batch s-CLIPLoss; returns float32 scores in row order.

    ``f``, ``g``: (n, d) image/text embeddings (any float dtype); each permutation is cut
    into consecutive batches of ``batch_size`` rows.
    """
    import torch

    n = len(f)
    total = np.zeros(n, dtype=np.float64)
    for perm in perms:
        for start in range(0, n, batch_size):
            rows = perm[start:start + batch_size]
            fb = torch.from_numpy(np.ascontiguousarray(f[rows], dtype=np.float32))
            gb = torch.from_numpy(np.ascontiguousarray(g[rows], dtype=np.float32))
            total[rows] += batch_scores(fb, gb, tau).numpy()
    return (total / len(perms)).astype(np.float32)


def batch_scores(f: torch.Tensor, g: torch.Tensor, tau: float) -> torch.Tensor:
    """s_i(B) for every row of one batch: ``f``, ``g`` (b, d) float32; returns (b,) float64."""
    import torch

    row_lse, col_lse = batch_lse(f, g, 1.0 / tau)
    diag = (f * g).sum(1, dtype=torch.float64)
    return diag - (tau / 2.0) * (row_lse + col_lse)


def batch_lse(f: torch.Tensor, g: torch.Tensor, inv_tau: float,
              tile_rows: int = TILE_ROWS, tile_cols: int = TILE_COLS) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column log-sum-exp of ``inv_tau * f @ g.T`` (float64), computed tile by tile.

    Row i: logsumexp_j(f_i·g_j·inv_tau); column j: logsumexp_i(f_i·g_j·inv_tau). Never holds
    more than one ``tile_rows x tile_cols`` float32 tile of the logits.
    """
    import torch

    b = f.shape[0]
    fs = f * inv_tau
    row = torch.full((b,), -math.inf, dtype=torch.float64)
    col = torch.full((b,), -math.inf, dtype=torch.float64)
    buf = torch.empty(min(tile_rows, b) * min(tile_cols, b), dtype=torch.float32)
    for i in range(0, b, tile_rows):
        fi = fs[i:i + tile_rows]
        for j in range(0, b, tile_cols):
            gj = g[j:j + tile_cols]
            tile = buf[:len(fi) * len(gj)].view(len(fi), len(gj))
            torch.mm(fi, gj.T, out=tile)
            r_lse, c_lse = _tile_lse(tile, fi, gj)
            torch.logaddexp(row[i:i + len(fi)], r_lse, out=row[i:i + len(fi)])
            torch.logaddexp(col[j:j + len(gj)], c_lse, out=col[j:j + len(gj)])
    return row, col


def _tile_lse(tile: torch.Tensor, fi: torch.Tensor, gj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column log-sum-exp of one logits tile (overwritten), float64.

    One exp per element: with r_i the row maxima and M = max r, E = exp(L - r) gives the row
    sums (E @ 1), and the column sums are exp(r - M) @ E (matrix-vector products). A column whose
    scaled sum is tiny (its values all far below M) is recomputed exactly with its own shift.
    """
    import torch

    r = tile.amax(1)
    tile.sub_(r[:, None]).exp_()
    row_sum = torch.mv(tile, torch.ones(tile.shape[1], dtype=tile.dtype))
    m = r.max()
    col_sum = torch.mv(tile.T, torch.exp(r - m))
    row_lse = r.double() + torch.log(row_sum.double())
    col_lse = m.double() + torch.log(col_sum.double())
    low = torch.nonzero(col_sum < _MIN_SCALED_SUM).flatten()
    if len(low):
        exact = torch.logsumexp(fi @ gj[low].T, dim=0)
        col_lse[low] = exact.double()
    return row_lse, col_lse
