"""The main job end to end on the embedded test pool: two strategies, leaderboard, resume."""
import json

import pytest

from harness.cli import main
from harness.run import make_budget, plan
from harness.config import compose

# the minimal model and a few steps, so that each cell trains in seconds
FAST = ["scale.model=selbench-minimal", "scale.samples_seen=320", "scale.global_batch_size=32",
        "scale.warmup=2"]


def test_plan_expands_strategies_budgets_and_seeds():
    cfg = compose("run", ["strategies=[no_filter,random,clip_score]", "budgets=[0.1,0.3]",
                          "seeds=[0,1]"])
    cells = [(c.strategy, c.budget, c.seed) for c in plan(cfg)]
    assert cells[:2] == [("no_filter", "natural", 0), ("no_filter", "natural", 1)]
    assert ("random", "0.1", 1) in cells and ("clip_score", "0.3", 0) in cells
    assert len(cells) == 2 + 2 * 2 * 2
    assert make_budget("0.3").fraction == 0.3 and make_budget("500").count == 500
    assert make_budget("none").natural


def test_strategy_budget_takes_one_budget_or_a_list():
    cfg = compose("run", ["strategies=[no_filter,clip_score,clipcov]", "budgets=[0.3]",
                          "+strategy_budget.clip_score=[0.3,0.05]", "+strategy_budget.clipcov=0.1"])
    cells = [(c.strategy, c.budget) for c in plan(cfg)]
    assert cells == [("no_filter", "natural"), ("clip_score", "0.3"), ("clip_score", "0.05"),
                     ("clipcov", "0.1")]


def test_cells_with_other_parameters_get_other_directories(tmp_path):
    base = compose("run", ["strategies=[s_cliploss]"])
    other = compose("run", ["strategies=[s_cliploss]", "strategy_params.s_cliploss.batch_size=64"])
    plain = compose("run", ["strategies=[random]"])
    (a,), (b,), (r,) = plan(base), plan(other), plan(plain)
    assert a.directory(tmp_path) != b.directory(tmp_path)
    assert a.directory(tmp_path).parent.parent.name.startswith("s_cliploss-")
    assert r.directory(tmp_path) == tmp_path / "runs" / "random" / "budget-0.3" / "seed0"


def test_run_end_to_end_and_resume(test_pool, tmp_path, capsys):
    pool, _ = test_pool
    out = tmp_path / "run"
    args = ["run", f"pool={pool}", f"out={out}", "strategies=[no_filter,clip_score]", *FAST]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "clip_score" in printed and "no_filter" in printed and "Average" in printed
    board = out / "leaderboard"
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.html"):
        assert (board / name).is_file()
    cells = {s: out / "runs" / s / b / "seed0" for s, b in
             [("no_filter", "budget-natural"), ("clip_score", "budget-0.3")]}
    lines = [json.loads(l) for l in (cells["clip_score"] / "eval" / "eval_results.jsonl").open()]
    assert len(lines) == 11 and {l["run"]["strategy"] for l in lines} == {"clip_score"}
    manifest = json.loads((cells["clip_score"] / "subset.json").read_text())
    assert manifest["selected"] == round(0.3 * 2000)

    # interrupt the second cell mid-training: its checkpoint and results are gone
    kept = {p: p.stat().st_mtime_ns for p in cells["no_filter"].rglob("*") if p.is_file()}
    for path in [cells["clip_score"] / "train" / "train.json",
                 cells["clip_score"] / "train" / "checkpoint.pt",
                 cells["clip_score"] / "eval" / "eval_results.jsonl"]:
        path.unlink()
    assert main(args) == 0
    assert (cells["clip_score"] / "train" / "train.json").is_file()
    assert len((cells["clip_score"] / "eval" / "eval_results.jsonl").read_text().splitlines()) == 11
    # the finished cell was skipped, not redone
    assert {p: p.stat().st_mtime_ns for p in kept} == kept


def test_run_needs_a_pool_for_real_suites(capsys):
    assert main(["run", "suite=datacomp38"]) == 2
    assert "needs pool=DIR" in capsys.readouterr().err


def test_run_lists_missing_experiment_values(capsys):
    assert main(["run", "experiment=clipcov_medium", "pool=/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "strategy_params.clipcov.class_embeddings" in err


def test_failed_run_leaves_no_partial_outputs(tmp_path, capsys):
    """A run that cannot start writes neither command.txt nor config.yaml (nor creates out)."""
    out = tmp_path / "run"
    assert main(["run", "pool=/nonexistent", f"out={out}"]) == 2
    assert "not found" in capsys.readouterr().err
    assert not out.exists()
    out.mkdir()
    (out / "command.txt").write_text("an earlier, unrelated command\n")
    assert main(["run", "pool=/nonexistent", f"out={out}"]) == 2
    assert (out / "command.txt").read_text() == "an earlier, unrelated command\n"
    assert not (out / "config.yaml").exists()


def test_second_run_in_a_locked_folder_is_refused(test_pool, tmp_path, capsys, lock_holder):
    pool, _ = test_pool
    out = tmp_path / "run"
    with lock_holder(out):
        assert main(["run", f"pool={pool}", f"out={out}", "strategies=[no_filter]", *FAST]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "in use by another selbench process" in err
        assert sorted(p.name for p in out.iterdir()) == [".selbench.lock"]


def test_run_refuses_a_fractional_count_as_select_does(tmp_path, capsys):
    assert main(["run", "budgets=[1.5]", f"out={tmp_path}"]) == 2
    run_err = capsys.readouterr().err.strip().splitlines()[-1]
    assert main(["select", f"pool={tmp_path}", "strategy=random", "budget.count=1.5",
                 f"out={tmp_path}/s.npy"]) == 2
    select_err = capsys.readouterr().err.strip().splitlines()[-1]
    assert run_err == select_err == "selbench: error: budget.count must be a whole number, got 1.5"
    assert not (tmp_path / "runs").exists()


def test_an_old_budget_none_folder_is_reused(tmp_path):
    cfg = compose("run", ["strategies=[no_filter]"])
    (spec,) = plan(cfg)
    assert spec.budget == "natural"
    assert spec.directory(tmp_path).parent.name == "budget-natural"
    old = tmp_path / "runs" / "no_filter" / "budget-none" / "seed0"
    old.mkdir(parents=True)
    assert spec.directory(tmp_path) == old
