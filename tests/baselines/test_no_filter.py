"""no_filter: every uid of the pool, and only under budgets that ask for the whole pool."""
import numpy as np
import pytest

from pool_fixtures import write_pool
from harness.errors import SelbenchError
from harness.pool.subset import read_subset
from harness.pool.uid import uids_to_array
from harness.select.base import Budget
from harness.select.engine import run_selection

UIDS = ["c" * 32, "0" * 31 + "1", "a" * 16 + "0" * 16]


@pytest.fixture
def pool(tmp_path):
    return write_pool(tmp_path / "pool", np.eye(3), np.eye(3), uids=UIDS, shard_size=2)


@pytest.mark.parametrize("budget", [Budget(natural=True), Budget(fraction=1.0), Budget(count=3)])
def test_keeps_every_uid_sorted(pool, tmp_path, budget):
    m = run_selection(pool, "no_filter", {}, budget, 0, tmp_path / "all.npy", progress=False)
    expect = uids_to_array(["0" * 31 + "1", "a" * 16 + "0" * 16, "c" * 32])
    assert read_subset(tmp_path / "all.npy").tolist() == expect.tolist() and m["selected"] == 3


@pytest.mark.parametrize("budget", [Budget(fraction=0.5), Budget(count=2)])
def test_smaller_budgets_are_refused(pool, tmp_path, budget):
    with pytest.raises(SelbenchError, match=r"no_filter keeps the whole pool \(3 rows\) but the "
                                            r"budget asks for 2; use budget=natural"):
        run_selection(pool, "no_filter", {}, budget, 0, tmp_path / "x.npy", progress=False)
