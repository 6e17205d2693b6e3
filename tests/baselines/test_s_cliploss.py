"""s_cliploss: the per-batch formula by hand, seeded batchings within shards, the tiled kernel."""
import math

import numpy as np
import pytest
import torch

from pool_fixtures import make_random_pool, unit_rows, write_pool
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.select.base import Budget
from harness.select.engine import build_strategy, make_context, pool_uids, run_selection, score_pool
from baselines.s_cliploss import batch_lse, batching_permutation, shard_scores

# 3 hand-made rows (2-d unit vectors): f_i·g_j below, tau = 0.5
F3 = np.array([(1.0, 0.0), (0.0, 1.0), (0.6, 0.8)])
G3 = np.array([(1.0, 0.0), (0.6, 0.8), (0.0, 1.0)])
# f·g matrix: [[1, .6, 0], [0, .8, 1], [.6, 1, .8]]


def hand_scores(tau=0.5):
    """s_i written out term by term for the 3-row batch."""
    m = [[1.0, 0.6, 0.0], [0.0, 0.8, 1.0], [0.6, 1.0, 0.8]]
    out = []
    for i in range(3):
        row = math.log(sum(math.exp(m[i][j] / tau) for j in range(3)))
        col = math.log(sum(math.exp(m[j][i] / tau) for j in range(3)))
        out.append(m[i][i] - tau / 2 * (row + col))
    return out


def reference(f, g, tau):
    """float64 s_i(B) of one batch, straight from the formula."""
    f, g = np.asarray(f, np.float64), np.asarray(g, np.float64)
    logits = f @ g.T / tau

    def lse(x, axis):
        m = x.max(axis=axis, keepdims=True)
        return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)

    return (f * g).sum(1) - tau / 2 * (lse(logits, 1) + lse(logits, 0))


def scorer_for(pool_dir, seed=0, **params):
    p = Pool.open(pool_dir)
    return build_strategy("s_cliploss", params, make_context(p, seed=seed)), p


def test_one_batch_matches_hand_computation(tmp_path):
    root = write_pool(tmp_path / "pool", F3, G3, dtype=np.float32)
    scorer, pool = scorer_for(root, batch_size=8, num_batchings=1, temperature=0.5)
    got = score_pool(scorer, pool)
    assert got == pytest.approx(hand_scores(0.5), abs=1e-6)
    # batch >= rows: the permutation does not matter, so K batchings average to the same
    scorer, pool = scorer_for(root, batch_size=3, num_batchings=4, temperature=0.5)
    assert score_pool(scorer, pool) == pytest.approx(hand_scores(0.5), abs=1e-6)


def test_batches_within_shards_follow_the_seeded_permutations(tmp_path):
    rng = np.random.default_rng(3)
    img = unit_rows(rng.normal(size=(10, 4)))
    txt = unit_rows(img + rng.normal(size=(10, 4)))
    root = write_pool(tmp_path / "pool", img, txt, shard_size=6, dtype=np.float32)
    scorer, pool = scorer_for(root, seed=7, batch_size=4, num_batchings=3, temperature=0.1)
    got = score_pool(scorer, pool)
    expect = np.zeros(10)
    for stem, lo, hi in (("00000000", 0, 6), ("00000001", 6, 10)):
        for k in range(3):
            perm = batching_permutation(7, stem, k, hi - lo)
            for start in range(0, hi - lo, 4):  # batches of 4, the shard's last one smaller
                rows = perm[start:start + 4]
                expect[lo + rows] += reference(img[lo + rows], txt[lo + rows], 0.1) / 3
    assert got == pytest.approx(expect, abs=1e-6)
    # another seed gives other batchings, hence other scores
    other, pool = scorer_for(root, seed=8, batch_size=4, num_batchings=3, temperature=0.1)
    assert not np.allclose(score_pool(other, pool), got, atol=1e-4)


def test_permutations_are_deterministic_and_differ_by_k_and_stem():
    a = batching_permutation(0, "00000000", 0, 50)
    assert np.array_equal(a, batching_permutation(0, "00000000", 0, 50))
    assert sorted(a) == list(range(50))
    assert not np.array_equal(a, batching_permutation(0, "00000000", 1, 50))
    assert not np.array_equal(a, batching_permutation(0, "00000001", 0, 50))


@pytest.mark.parametrize("tiles", [(7, 5), (64, 64), (3, 64)])
def test_tiled_kernel_matches_float64(tiles):
    rng = np.random.default_rng(0)
    g = unit_rows(rng.normal(size=(45, 12)))
    f = unit_rows(g + rng.normal(size=(45, 12)))
    f[:20] *= -1  # logits spread over [-1/tau, 1/tau]: exercises the exact low-column path
    tau = 0.01
    row, col = batch_lse(torch.tensor(f, dtype=torch.float32), torch.tensor(g, dtype=torch.float32),
                         1 / tau, *tiles)
    logits = f @ g.T / tau
    ref_row = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    ref_col = np.log(np.exp(logits - logits.max(0, keepdims=True)).sum(0)) + logits.max(0)
    assert row.numpy() == pytest.approx(ref_row, abs=2e-4)
    assert col.numpy() == pytest.approx(ref_col, abs=2e-4)
    scores = shard_scores(f, g, tau, 45, [np.arange(45)])
    assert scores == pytest.approx(reference(f, g, tau), abs=1e-5)


def test_engine_top_k_and_determinism(tmp_path):
    root = make_random_pool(tmp_path / "pool", n=120, dim=8, shard_size=50)
    params = {"batch_size": 16, "num_batchings": 2}
    m = run_selection(root, "s_cliploss", params, Budget(count=30), 1, tmp_path / "a.npy", progress=False)
    run_selection(root, "s_cliploss", params, Budget(count=30), 1, tmp_path / "b.npy", progress=False)
    assert m["selected"] == 30 and m["params"]["num_batchings"] == 2
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    scorer, pool = scorer_for(root, seed=1, **params)
    scores = score_pool(scorer, pool)
    uids = pool_uids(pool)
    chosen = set(read_subset(tmp_path / "a.npy").tolist())
    top = set(uids[np.argsort(-scores, kind="stable")[:30]].tolist())
    assert chosen == top


@pytest.mark.parametrize("params", [{"batch_size": 0}, {"num_batchings": 0}, {"temperature": 0.0}])
def test_bad_parameters(tmp_path, params):
    root = make_random_pool(tmp_path / "pool", n=10, dim=4, shard_size=10)
    with pytest.raises(SelbenchError):
        scorer_for(root, **params)


def test_nan_embedding_is_a_one_line_error(tmp_path):
    img = unit_rows(np.random.default_rng(0).normal(size=(5, 4)))
    txt = img.copy()
    txt[3, 1] = np.nan
    root = write_pool(tmp_path / "pool", img, txt, dtype=np.float32)
    with pytest.raises(SelbenchError, match=r"l14_txt row 3: non-finite") as err:
        run_selection(root, "s_cliploss", {}, Budget(count=2), 0, tmp_path / "o.npy", progress=False)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "o.npy").exists()
