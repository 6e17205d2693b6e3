"""ClipCov: hand-computed initial gains and greedy picks, a dense reference, budgets, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from baselines.clipcov import ClipCov
from pool_fixtures import unit_rows, write_pool
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.select.base import Budget
from harness.select.engine import build_params, make_context, pool_uids, run_selection, select_mask

# Two classes C0 = (1, 0), C1 = (0, 1). Rows 0-2 label as class 0, rows 3-4 as class 1.
F = np.array([[1, 0], [0.8, 0.6], [0.8, -0.6], [0, 1], [0.6, 0.8]])
G = np.array([[0.6, 0.8], [1, 0], [0.6, -0.8], [0.6, 0.8], [0, 1]])
CLASSES = np.array([[1, 0], [0, 1]], dtype=np.float32)
# Class 0: M = [[.6, 1, .6], [.96, .8, 0], [0, .8, .96]]; row sums 2.2, 1.76, 1.76; column
# sums 1.56, 2.6, 1.56 -> cross = 1.25333, 1.45333, 1.10667. e = .6, .8, .96; l = g_x =
# .6, 1, .6; class means point along (1, 0): tic = g_x, itc = f_x.
# Class 1: M = [[.8, 1], [1, .8]] -> cross = 1.8, 1.8; e = .8, .8; l = g_y = .8, 1;
# both means are (.3, .9)/|.| so tic = itc = .948683 for both rows.
GAINS = [1.253333 + 1.2 + 0.3 - 1.6,
         1.453333 + 1.6 + 0.5 - 1.8,
         1.106667 + 1.92 + 0.3 - 1.4,
         1.8 + 1.6 + 0.4 - 2 * 0.948683,
         1.8 + 1.6 + 0.5 - 2 * 0.948683]


@pytest.fixture
def hand_pool(tmp_path):
    np.save(tmp_path / "classes.npy", CLASSES)
    return write_pool(tmp_path / "pool", F, G, shard_size=2, dtype=np.float32)


def make(pool_dir, params, seed=0):
    pool = Pool.open(pool_dir)
    ctx = make_context(pool, seed)
    return pool, ctx, ClipCov(build_params(ClipCov, params), ctx)


def select(pool_dir, params, budget, seed=0):
    pool, ctx, strat = make(pool_dir, params, seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    return select_mask(strat, pool, budget, pool_uids(pool), rng), ctx.extra


def initial_gains(pool_dir, params, tmp_path):
    pool, _, strat = make(pool_dir, params)
    terms = strat.label_pass(pool)
    store = strat.spill(pool, terms, tmp_path / "spill.npy")
    strat.class_terms(store, terms)
    out = np.empty(len(terms["gain"]))
    out[terms["order"]] = terms["gain"]
    return terms, out


def test_initial_gains_by_hand(hand_pool, tmp_path):
    params = {"class_embeddings": str(tmp_path / "classes.npy")}
    terms, gains = initial_gains(hand_pool, params, tmp_path)
    assert terms["label"].tolist() == [0, 0, 0, 1, 1]
    np.testing.assert_allclose(gains, GAINS, atol=1e-5)


@pytest.mark.parametrize("block_size, k, expected", [
    # no update before the budget is met: the top-3 initial gains (rows 4, 2, 3)
    (200, 3, [2, 3, 4]),
    # updates after every pick. Pick 4 (class 1): row 3 loses (M[3,4] + M[4,3])/2 = 1 and
    # the class penalty (cross_4 + .5 l_4)/2 = 1.15 -> -0.247. Pick 2 (class 0): row 0 loses
    # (.6 + 0)/3 + (1.10667 + .3)/3 -> 0.484; row 1 loses (0 + .8)/3 + 0.46889 -> 1.018.
    # Pick 1 (1.018 beats 0.484 and -0.247).
    (1, 3, [1, 2, 4]),
    # then row 0 loses (1 + .96)/3 + (1.10667 + 1.45333 + .5)/3 -> -1.189 < -0.247: pick 3
    (1, 4, [1, 2, 3, 4]),
])
def test_greedy_picks_by_hand(hand_pool, tmp_path, block_size, k, expected):
    params = {"class_embeddings": str(tmp_path / "classes.npy"), "block_size": block_size}
    mask, extra = select(hand_pool, params, Budget(count=k))
    assert np.flatnonzero(mask).tolist() == expected
    assert extra["classes"] == 2


def dense_reference(f, g, classes, k, block, uids, w=(2.0, 0.5, 1.0), penalty=1.0):
    """The specification written plainly: dense M per class, argmax over all rows each step."""
    n = len(f)
    label = np.argmax(f @ classes.T, axis=1)
    gain, cross, ls = np.zeros(n), np.zeros(n), np.zeros(n)
    members = {c: np.flatnonzero(label == c) for c in range(len(classes))}
    mats = {}
    for c, idx in members.items():
        if len(idx) == 0:
            continue
        m = np.maximum(f[idx] @ g[idx].T, 0)
        mats[c] = m
        mf = f[idx].mean(0) / np.linalg.norm(f[idx].mean(0))
        mg = g[idx].mean(0) / np.linalg.norm(g[idx].mean(0))
        for a, i in enumerate(idx):
            cross[i] = (m[a].sum() + m[:, a].sum()) / len(idx)
            ls[i] = g[i] @ classes[c]
            gain[i] = (cross[i] + w[0] * m[a, a] + w[1] * ls[i]
                       - w[2] * (g[i] @ mf + f[i] @ mg))
    rank = np.empty(n, dtype=np.int64)  # uid order breaks ties
    rank[np.lexsort((uids["f1"], uids["f0"]))] = np.arange(n)
    taken, picks = np.zeros(n, bool), []
    new = {c: [] for c in members}
    done = {c: [] for c in members}
    while len(picks) < k:
        best = max((i for i in range(n) if not taken[i]), key=lambda i: (gain[i], -rank[i]))
        taken[best] = True
        picks.append(best)
        c = label[best]
        new[c].append(best)
        done[c].append(best)
        if len(new[c]) == block:
            idx = members[c]
            pos = [int(np.flatnonzero(idx == j)[0]) for j in new[c]]
            drop = (mats[c][:, pos].sum(1) + mats[c][pos, :].sum(0)) / len(idx)
            mass = (cross[done[c]].sum() + w[1] * ls[new[c]].sum()) / len(idx)
            gain[idx] -= drop + penalty * mass
            new[c] = []
    return sorted(picks)


@pytest.mark.parametrize("block, chunk", [(1, 7), (3, 2048), (5, 4)])
def test_matches_dense_reference(tmp_path, block, chunk):
    rng = np.random.default_rng(block)
    n, d = 60, 6
    f = unit_rows(rng.normal(size=(n, d)))
    g = unit_rows(f + rng.normal(size=(n, d)))
    classes = unit_rows(rng.normal(size=(3, d))).astype(np.float32)
    np.save(tmp_path / "c.npy", classes)
    pool = write_pool(tmp_path / "p", f, g, shard_size=16, dtype=np.float32)
    params = {"class_embeddings": str(tmp_path / "c.npy"), "block_size": block,
              "chunk_rows": chunk, "w_label": 0.7, "class_penalty": 0.5}
    mask, _ = select(pool, params, Budget(count=25))
    uids = pool_uids(Pool.open(pool))
    expected = dense_reference(f.astype(np.float32), g.astype(np.float32), classes, 25, block,
                               uids, w=(2.0, 0.7, 1.0), penalty=0.5)
    assert np.flatnonzero(mask).tolist() == expected


def test_exact_budget_and_determinism(tmp_path):
    rng = np.random.default_rng(0)
    f = unit_rows(rng.normal(size=(120, 8)))
    g = unit_rows(f + rng.normal(size=(120, 8)))
    np.save(tmp_path / "c.npy", unit_rows(rng.normal(size=(4, 8))).astype(np.float32))
    pool = write_pool(tmp_path / "p", f, g, shard_size=50)
    params = {"class_embeddings": str(tmp_path / "c.npy"), "block_size": 4}
    a, _ = select(pool, params, Budget(fraction=0.3))
    b, _ = select(pool, params, Budget(fraction=0.3), seed=5)
    assert a.sum() == 36 and a.tolist() == b.tolist()  # deterministic: the seed is unused


def test_default_class_embeddings_from_pool_json(tmp_path):
    info = {"evalsets": "evalsets", "imagenet_analog": "objects"}
    pool = write_pool(tmp_path / "p", F, G, dtype=np.float32, arch="teacher", info=info)
    with pytest.raises(SelbenchError, match="classes_teacher_txt.npy: clipcov class embeddings not found"):
        select(pool, {}, Budget(count=2))
    (pool / "evalsets" / "objects").mkdir(parents=True)
    np.save(pool / "evalsets" / "objects" / "classes_teacher_txt.npy", CLASSES)
    manifest = run_selection(pool, "clipcov", {"block_size": 1}, Budget(count=3), 0,
                             tmp_path / "s.npy", progress=False)
    assert manifest["selected"] == 3 and manifest["extra"]["classes"] == 2


def test_bad_input(hand_pool, tmp_path):
    with pytest.raises(SelbenchError, match="pass strategy.class_embeddings"):
        select(hand_pool, {}, Budget(count=2))  # pool.json has no evalsets
    np.save(tmp_path / "wrong.npy", np.ones((2, 3), np.float32))
    with pytest.raises(SelbenchError, match=r"shape \(2, 3\), expected \(classes, 2\)"):
        select(hand_pool, {"class_embeddings": str(tmp_path / "wrong.npy")}, Budget(count=2))
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 1], [0, 1]], np.float32))
    with pytest.raises(SelbenchError, match="non-finite"):
        select(hand_pool, {"class_embeddings": str(tmp_path / "nan.npy")}, Budget(count=2))
    with pytest.raises(SelbenchError, match="no natural size"):
        select(hand_pool, {"class_embeddings": str(tmp_path / "classes.npy")}, Budget(natural=True))
