"""Fixtures of the evaluation tests (helpers live in tests/evaluate_fixtures.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from evaluate_fixtures import build_tiny_evalsets, save_minimal_checkpoint


@pytest.fixture(scope="module")
def tiny_evalsets(tmp_path_factory) -> Path:
    """The tiny suite's tasks as small random evaluation sets (built once per module)."""
    return build_tiny_evalsets(tmp_path_factory.mktemp("evalsets"))


@pytest.fixture(scope="module")
def minimal_checkpoint(tmp_path_factory) -> Path:
    """A random selbench-minimal checkpoint with a train.json beside it."""
    return save_minimal_checkpoint(tmp_path_factory.mktemp("run") / "checkpoint.pt", train_info={})


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: the tiny models are faster so on a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
