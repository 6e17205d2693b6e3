"""``selbench run -m``: the sweep's cells as Hydra multirun jobs (basic launcher in this
process; submitit's local launcher as subprocesses, when the plugin is installed)."""
import importlib.util
import json
import shlex

import pytest

from harness.cli import main

FAST = ["scale.model=selbench-minimal", "scale.samples_seen=320", "scale.global_batch_size=32",
        "scale.warmup=2"]


def states(capsys, args):
    assert main(["plan", *args, "format=json"]) == 0
    return [r["state"] for r in json.loads(capsys.readouterr().out)]


def test_multirun_runs_the_requested_cells_as_jobs(test_pool, tmp_path, capsys):
    pool, _ = test_pool
    out = tmp_path / "sweep"
    args = [f"pool={pool}", f"out={out}", "strategies=[no_filter,random]", *FAST]
    assert main(["run", "-m", *args, "cell=1"]) == 0
    printed = capsys.readouterr().out
    assert "1 of 2 cells finished" in printed  # the status table and leaderboard follow the jobs
    assert states(capsys, args) == ["pending", "done"]  # Hydra left compose usable
    cell = out / "runs" / "random" / "budget-0.3" / "seed0"
    # the command that reruns this cell alone, not the multirun
    assert shlex.split((cell / "command.txt").read_text()) == ["selbench", "run", *args, "cell=1"]
    (job,) = out.glob("multirun/*/cell1/.hydra/overrides.yaml")
    assert "cell=1" in job.read_text()
    assert "random" in (out / "leaderboard" / "leaderboard.csv").read_text()


def test_failed_cell_is_reported_and_the_others_run(test_pool, tmp_path, capsys):
    pool, _ = test_pool
    out = tmp_path / "sweep"
    # a count above the pool's rows fails at selection, in the job
    args = [f"pool={pool}", f"out={out}", "strategies=[random]", "budgets=[1000000]", *FAST]
    assert main(["run", "-m", *args]) == 2
    err = capsys.readouterr().err
    assert "cell 0:" in err and "1 of 1 cells did not finish (0)" in err
    assert err.strip().splitlines()[-1].startswith("selbench: error: run -m:")


@pytest.mark.parametrize("extra, message", [
    (["seeds=[0],[1]"], "sweeps the cells only"),
    (["cell=range(0,5)"], "cell 2 is outside 0..1"),
    (["cell=x"], "is not a whole number"),
    (["plan=true"], "list them with `selbench plan`"),
])
def test_bad_multirun_arguments_are_one_line(tmp_path, capsys, extra, message):
    args = [f"out={tmp_path}", "strategies=[random]", "seeds=[0,1]"]
    assert main(["run", "-m", *args, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "multirun").exists()


def test_run_m_takes_only_overrides(capsys):
    assert main(["run", "-m", "extra", "strategies=[random]"]) == 2
    assert "only key=value overrides, got extra" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
                    reason="hydra-submitit-launcher (selbench[slurm]) is not installed")
def test_submitit_local_launcher_runs_each_cell_in_its_own_process(test_pool, tmp_path, capsys):
    pool, _ = test_pool
    out = tmp_path / "sweep"
    args = [f"pool={pool}", f"out={out}", "strategies=[no_filter,random]", *FAST]
    assert main(["run", "-m", *args, "hydra/launcher=submitit_local"]) == 0
    assert "2 of 2 cells finished" in capsys.readouterr().out
    assert states(capsys, args) == ["done", "done"]
    assert len(list(out.glob("multirun/*/.submitit/*/*_result.pkl"))) == 2


def test_hydra_logging_is_undone_after_the_jobs(test_pool, tmp_path, capsys):
    # Hydra's job logging adds handlers to the root logger; a later log call in this process
    # (a test, or selbench's own code) must not write to the jobs' streams
    import logging

    pool, _ = test_pool
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    args = [f"pool={pool}", f"out={tmp_path / 'sweep'}", "strategies=[random]", "budgets=[1000000]"]
    assert main(["run", "-m", *args]) == 2
    assert (list(root.handlers), root.level) == before
