"""s_cliploss_normsim: s-CLIPLoss top 30% of the pool, then the top budget by NormSim."""
import numpy as np
import pytest

from pool_fixtures import make_random_pool, unit_rows
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.select.base import Budget, top_k_mask
from harness.select.engine import build_strategy, make_context, pool_uids, run_selection, score_pool

PARAMS = {"batch_size": 32, "num_batchings": 2, "p": "inf"}


@pytest.fixture
def setup(tmp_path):
    root = make_random_pool(tmp_path / "pool", n=150, dim=8, shard_size=60)
    rng = np.random.default_rng(5)
    np.save(tmp_path / "t.npy", unit_rows(rng.normal(size=(4, 8))))
    return root, str(tmp_path / "t.npy")


def test_keeps_budget_rows_inside_the_s_cliploss_top_30(setup, tmp_path):
    root, target = setup
    out = tmp_path / "s.npy"
    m = run_selection(root, "s_cliploss_normsim", dict(PARAMS, target=target), Budget(count=20), 4,
                      out, progress=False)
    assert m["selected"] == 20 and m["extra"]["s_cliploss_kept"] == 45
    pool = Pool.open(root)
    uids = pool_uids(pool)
    scl = build_strategy("s_cliploss", {"batch_size": 32, "num_batchings": 2}, make_context(pool, seed=4))
    first = top_k_mask(score_pool(scl, pool), uids, 45)
    ns = score_pool(build_strategy("normsim", {"p": "inf", "target": target}, make_context(pool)), pool)
    idx = np.flatnonzero(first)
    want = np.zeros(len(uids), bool)
    want[idx[top_k_mask(ns[idx], uids[idx], 20)]] = True
    got = set(read_subset(out).tolist())
    assert got == set(uids[want].tolist())
    assert got <= set(uids[first].tolist())
    # NormSim alone would choose differently: the s-CLIPLoss stage matters
    assert got != set(uids[top_k_mask(ns, uids, 20)].tolist())


def test_threshold_applies_to_normsim_of_survivors(setup, tmp_path):
    root, target = setup
    m = run_selection(root, "s_cliploss_normsim", dict(PARAMS, target=target), Budget(threshold=0.5),
                      0, tmp_path / "threshold.npy", progress=False)  # t.npy is the target
    assert 0 < m["selected"] <= 45


def test_budget_above_survivors_and_missing_target(setup, tmp_path):
    root, target = setup
    out = tmp_path / "x.npy"
    with pytest.raises(SelbenchError, match="asks for 46 rows but s-CLIPLoss keeps only 45") as err:
        run_selection(root, "s_cliploss_normsim", dict(PARAMS, target=target), Budget(count=46), 0,
                      out, progress=False)
    assert "\n" not in str(err.value)
    with pytest.raises(SelbenchError, match="missing.npy not found"):
        run_selection(root, "s_cliploss_normsim", dict(PARAMS, target=str(tmp_path / "missing.npy")),
                      Budget(count=10), 0, out, progress=False)
    with pytest.raises(SelbenchError, match="budget.fraction, budget.count or budget.threshold"):
        run_selection(root, "s_cliploss_normsim", dict(PARAMS, target=target), Budget(natural=True), 0,
                      out, progress=False)
    assert not out.exists()
