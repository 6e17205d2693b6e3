"""Fixtures for the embedded benchmark: the test preset built once per session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def test_pool(tmp_path_factory):
    """The ``test`` preset pool (seed 0), built once per session with the real teacher."""
    from harness.synth.build import build_pool

    root = tmp_path_factory.mktemp("synth") / "pool"
    info = build_pool(root, preset="test", seed=0, progress=False)
    return root, info
