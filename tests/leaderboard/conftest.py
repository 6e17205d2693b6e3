"""Fixtures of the leaderboard tests (helpers live in tests/leaderboard_fixtures.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from leaderboard_fixtures import ALPHA, BETA, OFFSETS, audit_of, write_run


def make_sweep(root: Path) -> Path:
    """`root` with alpha and beta at budget 0.3, seeds 0-2, manifests with audits."""
    for strategy, base in (("alpha", ALPHA), ("beta", BETA)):
        for seed, off in enumerate(OFFSETS[strategy]):
            scores = {k: v + off for k, v in base.items()}
            write_run(root, strategy, seed, scores, audit=audit_of(strategy, seed))
    return root


@pytest.fixture
def sweep(tmp_path) -> Path:
    """A fresh `make_sweep` under the test's temporary directory."""
    return make_sweep(tmp_path / "sweep")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(board, out): one leaderboard with plots built from a sweep, shared by a module."""
    from harness.leaderboard.build import build_leaderboard

    tmp = tmp_path_factory.mktemp("built")
    out = tmp / "lb"
    return build_leaderboard([make_sweep(tmp / "sweep")], out), out
