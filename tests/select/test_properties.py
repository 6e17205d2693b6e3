"""Properties of every selection over random pools (hypothesis; few examples, so it stays fast)."""
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pool_fixtures import write_pool
from harness.pool.layout import Pool
from harness.pool.subset import is_sorted, read_subset
from harness.pool.uid import pair_to_uid
from harness.select.base import Budget
from harness.select.engine import pool_uids, run_selection

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def pools(draw):
    """(scores, uids, shard sizes): scores on a coarse grid (many ties), uids sharing high halves."""
    n = draw(st.integers(1, 24))
    grid = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    pairs = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2**64 - 1)),
                          min_size=n, max_size=n, unique=True))
    sizes = draw(st.lists(st.integers(1, n), min_size=2, max_size=2))
    k = draw(st.integers(1, n))
    return [g / 4 for g in grid], [pair_to_uid(*p) for p in pairs], sizes, k


def write(root: Path, scores, uids, shard_size) -> Path:
    """Row i has clip score exactly scores[i]: f = e1, g = (s, sqrt(1 - s^2))."""
    s = np.asarray(scores)
    img = np.stack([np.ones_like(s), np.zeros_like(s)], 1)
    txt = np.stack([s, np.sqrt(1 - s ** 2)], 1)
    return write_pool(root, img, txt, uids=uids, shard_size=shard_size, dtype=np.float32)


def expected_top_k(scores, uids_arr, k):
    """The k best rows by (score descending, uid ascending), by plain sorting."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], int(uids_arr[i][0]), int(uids_arr[i][1])))
    return np.sort(uids_arr[order[:k]])


@SETTINGS
@given(pools(), st.sampled_from(["clip_score", "random", "then"]), st.integers(0, 3))
def test_exact_budget_sorted_subset_of_pool(case, name, seed):
    scores, uids, sizes, k = case
    params = {"a": {"name": "clip_score"}, "b": {"name": "clip_score"}, "a_fraction": 1.0} \
        if name == "then" else {}
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp) / "pool", scores, uids, sizes[0])
        out = Path(tmp) / "s.npy"
        m = run_selection(root, name, params, Budget(count=k), seed, out, progress=False)
        sub = read_subset(out)
        assert len(sub) == k == m["selected"] and is_sorted(sub)
        pool = set(pool_uids(Pool.open(root)).tolist())
        assert set(sub.tolist()) <= pool and len(set(sub.tolist())) == k


@SETTINGS
@given(pools())
def test_top_k_ties_by_uid_and_independent_of_sharding(case):
    scores, uids, sizes, k = case
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for i, size in enumerate(sizes):
            root = write(Path(tmp) / f"pool{i}", scores, uids, size)
            outs.append(Path(tmp) / f"s{i}.npy")
            run_selection(root, "clip_score", {}, Budget(count=k), 0, outs[-1], progress=False)
        assert outs[0].read_bytes() == outs[1].read_bytes()
        arr = pool_uids(Pool.open(Path(tmp) / "pool0"))
        assert read_subset(outs[0]).tolist() == expected_top_k(scores, arr, k).tolist()


@SETTINGS
@given(pools(), st.integers(0, 2**32 - 1))
def test_random_same_seed_same_bytes(case, seed):
    scores, uids, sizes, k = case
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for i, size in enumerate(sizes):  # also independent of shard sizes: rows keep their order
            root = write(Path(tmp) / f"pool{i}", scores, uids, size)
            outs.append(Path(tmp) / f"r{i}.npy")
            run_selection(root, "random", {}, Budget(count=k), seed, outs[-1], progress=False)
        assert outs[0].read_bytes() == outs[1].read_bytes()
        again = Path(tmp) / "again.npy"
        run_selection(Path(tmp) / "pool0", "random", {}, Budget(count=k), seed, again, progress=False)
        assert again.read_bytes() == outs[0].read_bytes()
