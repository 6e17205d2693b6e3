"""Sweeps as cluster jobs: plan lists the cells, run cell=I runs one, status reports and
builds the leaderboard of the finished cells."""
import json

from harness.cli import main

FAST = ["scale.model=selbench-minimal", "scale.samples_seen=320", "scale.global_batch_size=32",
        "scale.warmup=2"]


def plan_rows(capsys, args):
    assert main(["plan", *args, "format=json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cells_run_by_index_and_status_builds_the_finished_leaderboard(test_pool, tmp_path, capsys):
    pool, _ = test_pool
    out = tmp_path / "sweep"
    args = [f"pool={pool}", f"out={out}", "strategies=[no_filter,clip_score]", *FAST]
    rows = plan_rows(capsys, args)
    assert [(r["cell"], r["state"], r["label"]) for r in rows] == [
        (0, "pending", "no_filter @ natural seed 0"), (1, "pending", "clip_score @ 0.3 seed 0")]
    assert main(["run", *args, "plan=true"]) == 0
    assert "2 cells" in capsys.readouterr().out

    assert main(["run", *args, "cell=1"]) == 0
    capsys.readouterr()
    rows = plan_rows(capsys, args)
    assert [r["state"] for r in rows] == ["pending", "done"]
    assert (out / "runs" / "clip_score" / "budget-0.3" / "seed0" / "command.txt").is_file()
    assert not (out / "runs" / "no_filter").exists()

    assert main(["status", *args]) == 0
    printed = capsys.readouterr().out
    assert "1 of 2 cells finished" in printed
    board = (out / "leaderboard" / "leaderboard.csv").read_text()
    assert "clip_score" in board and "no_filter" not in board


def test_bad_cell_index_is_one_line(tmp_path, capsys):
    assert main(["run", f"out={tmp_path}", "strategies=[random]", "cell=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cell=3 is outside 0..0" in err
    assert main(["run", f"out={tmp_path}", "strategies=[random]", "cell=x"]) == 2
    assert "must be a whole number" in capsys.readouterr().err
