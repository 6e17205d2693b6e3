"""Executors: shard results in shard order, identical in process and in a process pool.

Each process pool costs a few seconds of worker start-up (spawn), so two tests cover it.
"""
import numpy as np
import pytest

from pool_fixtures import check_nonfinite_pool_refused, make_random_pool, write_pool
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.select.base import Budget
from harness.select.engine import run_selection
from harness.select.executors import LocalExecutor, ProcessExecutor, make_executor


def test_local_executor_yields_shards_in_order(tmp_path):
    pool = Pool.open(make_random_pool(tmp_path / "pool", n=130, shard_size=20))
    parts = LocalExecutor().map_shards(lambda s: np.full(len(s), s.offset), pool)
    assert [len(p) for p in parts] == [20] * 6 + [10]
    assert [int(p[0]) for p in parts] == list(range(0, 130, 20))


def test_workers_give_identical_results(tmp_path):
    root = make_random_pool(tmp_path / "pool", n=130, shard_size=20)
    one = run_selection(root, "clip_score", {}, Budget(count=33), 0, tmp_path / "w1.npy", workers=1,
                        progress=False)
    two = run_selection(root, "clip_score", {}, Budget(count=33), 0, tmp_path / "w2.npy", workers=2,
                        progress=False)
    assert (tmp_path / "w1.npy").read_bytes() == (tmp_path / "w2.npy").read_bytes()
    assert one["subset_sha256"] == two["subset_sha256"] and one["extra"] == two["extra"]


def test_worker_errors_come_back_as_one_line(tmp_path):
    check_nonfinite_pool_refused(tmp_path, ProcessExecutor(2))


def test_make_executor():
    assert isinstance(make_executor(1), LocalExecutor)
    ex = make_executor(3)
    assert isinstance(ex, ProcessExecutor) and ex.workers == 3
    with pytest.raises(SelbenchError, match="workers must be >= 1"):
        make_executor(0)
