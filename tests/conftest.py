"""Fixtures shared by every test folder (helpers live in tests/pool_fixtures.py)."""
from pathlib import Path

import pytest

from pool_fixtures import make_random_pool


@pytest.fixture
def random_pool(tmp_path) -> Path:
    """A 200-row, 4-shard metadata pool with l14 embeddings (fp32)."""
    return make_random_pool(tmp_path / "pool")
