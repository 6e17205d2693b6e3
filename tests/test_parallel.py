from harness.parallel import map_in_order
from worker_fixtures import counting_fn


def test_ray_map_unpickles_the_function_once_per_worker(tmp_path, ray_local):
    log = tmp_path / "loads"
    log.mkdir()
    assert map_in_order(counting_fn(log), list(range(30)), workers=2, kind="ray") == [2 * i for i in range(30)]
    pids = [p.name.split("-")[0] for p in log.iterdir()]
    assert 1 <= len(pids) == len(set(pids))  # one load per worker, not 30

