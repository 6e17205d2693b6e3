"""random: exactly k uids without replacement, from np.random.Generator(PCG64(seed))."""
import numpy as np
import pytest

from pool_fixtures import make_random_pool
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.select.base import Budget
from harness.select.engine import pool_uids, run_selection
from baselines.random import random_mask


def test_mask_is_first_k_of_the_seeded_permutation():
    # PCG64(0).permutation(10) starts 4, 6, 2: the rows kept for k=3, seed 0 (computed once, pinned
    # so that a numpy or code change that alters published subsets is caught)
    mask = random_mask(10, 3, np.random.Generator(np.random.PCG64(0)))
    assert np.flatnonzero(mask).tolist() == sorted(
        np.random.Generator(np.random.PCG64(0)).permutation(10)[:3].tolist())
    assert np.flatnonzero(mask).tolist() == [2, 4, 6]


def test_each_row_equally_likely():
    counts = sum(random_mask(8, 2, np.random.Generator(np.random.PCG64(s))).astype(int)
                 for s in range(4000))
    # each row is kept with probability 2/8: 1000 expected, sd ~27
    assert counts.sum() == 8000 and np.abs(counts - 1000).max() < 120


def test_engine_writes_the_seeded_rows(tmp_path):
    root = make_random_pool(tmp_path / "pool", n=10, shard_size=4)
    m = run_selection(root, "random", {}, Budget(fraction=0.3), 0, tmp_path / "r.npy", progress=False)
    uids = pool_uids(Pool.open(root))
    assert read_subset(tmp_path / "r.npy").tolist() == np.sort(uids[[2, 4, 6]]).tolist()
    assert m["selected"] == 3 and m["params"] == {}
    assert m["embedding"] is None and m["embedding_keys"] == []
    run_selection(root, "random", {}, Budget(count=3), 0, tmp_path / "c.npy", progress=False)
    assert (tmp_path / "c.npy").read_bytes() == (tmp_path / "r.npy").read_bytes()
    run_selection(root, "random", {}, Budget(count=3), 1, tmp_path / "s1.npy", progress=False)
    assert (tmp_path / "s1.npy").read_bytes() != (tmp_path / "r.npy").read_bytes()


def test_needs_a_size(tmp_path):
    root = make_random_pool(tmp_path / "pool", n=10)
    with pytest.raises(SelbenchError, match="random has no natural size"):
        run_selection(root, "random", {}, Budget(natural=True), 0, tmp_path / "r.npy", progress=False)
