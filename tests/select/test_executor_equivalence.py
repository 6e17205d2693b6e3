"""Identical subset bytes for the local executor, a process pool and Ray, for several
strategies and three budgets (count, fraction, threshold or the method's own size)."""
import json

import numpy as np
import pytest

from pool_fixtures import check_nonfinite_pool_refused, make_random_pool
from worker_fixtures import counting_fn
from harness.errors import SelbenchError
from harness.select.base import Budget
from harness.select.engine import run_selection

EXECUTORS = [("local", 1), ("local", 2), ("ray", 2)]


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = make_random_pool(tmp_path_factory.mktemp("eq") / "pool", n=150, shard_size=20)
    meta = root / "metaclip.json"
    meta.write_text(json.dumps(["caption", "number 1", "number 2", "number 3", "number 4"]))
    return root


def select_everywhere(pool, tmp_path, strategy, params, budget):
    out = {}
    for kind, workers in EXECUTORS:
        path = tmp_path / f"{kind}{workers}.npy"
        manifest = run_selection(pool, strategy, params, budget, 0, path, workers=workers,
                                 progress=False, executor=kind)
        out[(kind, workers)] = (path.read_bytes(), manifest["extra"], manifest["selected"])
        assert not (tmp_path / f"{kind}{workers}.work").exists()
    return out


def assert_identical(results):
    first = next(iter(results.values()))
    for key, got in results.items():
        assert got[0] == first[0], key
        assert got[1:] == first[1:], key


@pytest.mark.parametrize("budget", [Budget(count=33), Budget(fraction=0.25), Budget(threshold=0.1)])
def test_clip_score_same_bytes_on_every_executor(pool, tmp_path, ray_local, budget):
    assert_identical(select_everywhere(pool, tmp_path, "clip_score", {"source": "embeddings"}, budget))


def test_clip_score_datacomp_rule_same_bytes_on_every_executor(pool, tmp_path, ray_local):
    # budget=natural with DataComp's rule: a threshold from the per-shard runs, as the budgets above
    params = {"source": "embeddings", "datacomp_fraction": 0.3}
    assert_identical(select_everywhere(pool, tmp_path, "clip_score", params, Budget(natural=True)))


@pytest.mark.parametrize("budget", [Budget(count=33), Budget(fraction=0.25), Budget(natural=True)])
def test_metaclip_same_bytes_on_every_executor(pool, tmp_path, ray_local, budget):
    params = {"metadata": str(pool / "metaclip.json")}
    if budget.natural:
        params["t"] = 3.0
    assert_identical(select_everywhere(pool, tmp_path, "metaclip", params, budget))


@pytest.mark.slow
@pytest.mark.parametrize("budget", [Budget(count=33), Budget(fraction=0.25), Budget(threshold=0.0)])
@pytest.mark.parametrize("strategy,params", [
    ("s_cliploss", {"batch_size": 16, "num_batchings": 2}),
    ("normsim", {"p": "2"}), ("normsim", {"p": "inf"}),
    ("then", {"a": {"name": "clip_score"}, "b": {"name": "clip_score"}, "a_fraction": 0.5}),
])
def test_more_strategies_same_bytes_on_every_executor(pool, tmp_path, ray_local, strategy, params,
                                                      budget):
    if strategy == "normsim":
        rng = np.random.default_rng(1)
        np.save(tmp_path / "targets.npy", rng.normal(size=(5, 16)))
        params = dict(params, target=str(tmp_path / "targets.npy"))
    assert_identical(select_everywhere(pool, tmp_path, strategy, params, budget))


def test_ray_errors_are_one_line(tmp_path, ray_local):
    """An error raised inside a Ray task comes back as the same one-line SelbenchError."""
    from harness.select.ray_executor import RayExecutor

    check_nonfinite_pool_refused(tmp_path, RayExecutor(2), "ray")


def test_ray_error_waits_for_running_tasks(tmp_path, ray_local):
    """When one Ray task fails, the others have stopped (or finished) before the error is
    raised: nothing is written afterwards into a folder the caller then removes."""
    import time

    from harness.select.ray_executor import RayExecutor

    started, marker = tmp_path / "started.txt", tmp_path / "late.txt"

    def task(item):
        if item == 0:
            for _ in range(300):  # fail once the other task is running
                if started.exists():
                    break
                time.sleep(0.1)
            raise SelbenchError("shard 0 is bad")
        started.write_text("running")
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # like native code, deaf to Ray's interrupt
            try:
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass
        marker.write_text("written")
        return item

    with pytest.raises(SelbenchError, match="^shard 0 is bad$"):
        RayExecutor(2).map_items(task, [0, 1])
    seen_at_raise = marker.exists()
    time.sleep(4.0)
    assert marker.exists() == seen_at_raise


def test_unknown_executor_is_refused(pool, tmp_path):
    with pytest.raises(SelbenchError, match="unknown executor 'dask'"):
        run_selection(pool, "clip_score", {}, Budget(count=3), 0, tmp_path / "x.npy",
                      progress=False, executor="dask")


def test_ray_workers_unpickle_the_function_once(tmp_path, ray_local):
    """The prepared function is deserialised once per worker process, not once per task
    (at 1,280 shards a strategy's function cost Ray +16 s of worker CPU per run)."""
    from harness.select.ray_executor import RayExecutor

    log = tmp_path / "loads"
    log.mkdir()
    assert RayExecutor(2).map_items(counting_fn(log), list(range(40))) == [2 * i for i in range(40)]
    pids = [p.name.split("-")[0] for p in log.iterdir()]
    assert 1 <= len(pids) == len(set(pids))  # one load per worker, not 40
