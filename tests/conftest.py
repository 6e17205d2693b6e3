"""Fixtures shared by every test folder (helpers live in tests/pool_fixtures.py)."""
from pathlib import Path

import pytest

from pool_fixtures import make_random_pool


@pytest.fixture
def random_pool(tmp_path) -> Path:
    """A 200-row, 4-shard metadata pool with l14 embeddings (fp32)."""
    return make_random_pool(tmp_path / "pool")


@pytest.fixture(scope="session")
def test_pool(tmp_path_factory):
    """The ``test`` preset pool (seed 0), built once per session with the real teacher."""
    from harness.synth.build import build_pool

    root = tmp_path_factory.mktemp("synth") / "pool"
    info = build_pool(root, preset="test", seed=0, progress=False)
    return root, info


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray instance (2 CPUs, no dashboard), started once per session and shut down."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def lock_holder():
    """A factory: ``with lock_holder(folder) as pid:`` another process holds ``folder``'s
    selbench lock (``harness.lock.folder_lock``) for the block; it is killed after."""
    import contextlib
    import subprocess
    import sys

    @contextlib.contextmanager
    def hold(folder):
        holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                                   "from harness.lock import folder_lock\n"
                                   "with folder_lock(sys.argv[1]):\n print('held', flush=True); time.sleep(60)",
                                   str(folder)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            yield holder.pid
        finally:
            holder.kill()
            holder.wait()

    return hold
