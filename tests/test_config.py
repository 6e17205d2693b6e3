"""Config composition and the CLI's shorthand for strategies and budgets."""
import pytest

from harness.cli import main
from harness.config import compose, rewrite_overrides
from harness.errors import SelbenchError


def test_rewrite_shorthand():
    assert rewrite_overrides(["strategy=clip_score", "strategy.p=2", "budget=none",
                              "budget.fraction=0.3", "seed=1"]) == [
        "strategy.name=clip_score", "++strategy.p=2", "budget.natural=true",
        "budget.fraction=0.3", "seed=1"]


def test_rewrite_rejects_bare_words():
    with pytest.raises(SelbenchError, match="key=value"):
        rewrite_overrides(["oops"])


def test_compose_pool_defaults_and_overrides():
    cfg = compose("pool", ["preset=test", "seed=3"])
    assert cfg.preset == "test" and cfg.seed == 3 and cfg.pool is None


def test_unknown_key_is_one_line_error():
    with pytest.raises(SelbenchError, match="bad configuration") as info:
        compose("pool", ["no_such_key=1"])
    assert "\n" not in str(info.value)


def test_cli_unknown_command(capsys):
    assert main(["selct"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "selbench: error: unknown command 'selct'; did you mean select?"


def test_cli_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("pool", "select", "train", "evaluate", "leaderboard", "run", "ls"):
        assert f"  {name} " in out


def test_cli_bad_override_exits_2(capsys):
    assert main(["pool", "validate", "nonsense_key=1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
