"""`selbench leaderboard` on the command line, and bad input: one line, exit 2, nothing overwritten."""
from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.leaderboard.commands import as_list
from leaderboard_fixtures import ALPHA, write_run

OUTPUTS = ("leaderboard.csv", "leaderboard_summary.csv", "leaderboard_tasks.csv",
           "leaderboard.md", "leaderboard.html")


def _snapshot(out):
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def built(sweep, tmp_path, capsys):
    """A leaderboard built from `sweep` through the CLI; returns its directory."""
    out = tmp_path / "lb"
    assert main(["leaderboard", f"results={sweep}", f"out={out}", "plots=false"]) == 0
    capsys.readouterr()
    return out


def test_cli_builds_and_prints(sweep, tmp_path, capsys):
    out = tmp_path / "lb"
    files = [sweep / "runs" / s / "0.3" / f"seed{k}" / "eval" / "eval_results.jsonl"
             for s in ("alpha", "beta") for k in range(3)]
    assert main(["leaderboard", f"results=[{','.join(map(str, files))}]", f"out={out}", "plots=false"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == "leaderboard: suite tiny, scale tiny"
    assert "0.620 ± 0.026" in printed
    assert all((out / name).is_file() for name in OUTPUTS)


def test_as_list():
    assert as_list("a.jsonl") == ["a.jsonl"]
    assert as_list("[a, b]") == ["a", "b"]
    assert as_list(None) == []


def _fails_cleanly(args, out, before, capsys, expect):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("selbench: error:") and "\n" not in err and expect in err
    assert _snapshot(out) == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    return err


def test_corrupt_line(built, sweep, capsys):
    bad = sweep / "runs" / "beta" / "0.3" / "seed2" / "eval" / "eval_results.jsonl"
    bad.write_text(bad.read_text() + '{"key": "objects", "metr\n')
    err = _fails_cleanly(["leaderboard", f"results={sweep}", f"out={built}"], built,
                         _snapshot(built), capsys, "corrupt results line")
    assert str(bad) in err


def test_mixed_suites(built, sweep, tmp_path, capsys):
    other = write_run(tmp_path / "other", "alpha", 0, {"imagenet1k": 0.3}, suite="datacomp38")
    err = _fails_cleanly(["leaderboard", f"results=[{sweep},{other}]", f"out={built}"], built,
                         _snapshot(built), capsys, "several suites")
    assert "datacomp38" in err and "tiny" in err


def test_unknown_suite(built, sweep, tmp_path, capsys):
    other = write_run(tmp_path / "other", "alpha", 0, ALPHA, suite="tinyy")
    err = _fails_cleanly(["leaderboard", f"results={other}", f"out={built}"], built,
                         _snapshot(built), capsys, "unknown suite 'tinyy'")
    assert str(other) in err


def test_task_outside_the_suite(built, sweep, tmp_path, capsys):
    other = write_run(tmp_path / "other", "alpha", 0, dict(ALPHA, imagenet1k=0.2))
    _fails_cleanly(["leaderboard", f"results={other}", f"out={built}"], built,
                   _snapshot(built), capsys, "imagenet1k")


def test_line_without_run_identity(built, tmp_path, capsys):
    path = tmp_path / "plain.jsonl"
    path.write_text(json.dumps({"key": "objects", "dataset": "objects",
                                "metrics": {"acc1": 0.5, "main_metric": 0.5}}) + "\n")
    _fails_cleanly(["leaderboard", f"results={path}", f"out={built}"], built,
                   _snapshot(built), capsys, f"{path} (result 1)")


def test_missing_inputs(tmp_path, capsys):
    assert main(["leaderboard", f"out={tmp_path / 'x'}"]) == 2
    assert "results=" in capsys.readouterr().err
    assert main(["leaderboard", f"results={tmp_path / 'nope.jsonl'}", f"out={tmp_path / 'x'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", f"results={tmp_path / 'empty'}", f"out={tmp_path / 'x'}"]) == 2
    assert "no eval_results.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


KILL_MID_WRITE = """
import os, signal, sys
import harness.leaderboard.build as build
from harness.cli import main

def killed(stage, out):  # every file is staged, none moved into place yet: SIGKILL
    os.kill(os.getpid(), signal.SIGKILL)

build._move_into_place = killed
main(sys.argv[1:])
"""


def test_leaderboard_killed_mid_write_leaves_nothing_after_a_rerun(sweep, tmp_path, capsys):
    """A build SIGKILLed mid-write leaves its staging folder beside ``out``; the rebuild removes
    it and leaves exactly what an uninterrupted build leaves."""
    import subprocess
    import sys

    ref, killed_root = tmp_path / "ref", tmp_path / "killed"
    args = [f"results={sweep}", "plots=false"]
    assert main(["leaderboard", *args, f"out={ref}/lb"]) == 0
    (killed_root / ".lb.staging.mine").mkdir(parents=True)  # not a selbench temporary: kept
    done = subprocess.run([sys.executable, "-c", KILL_MID_WRITE, "leaderboard", *args,
                           f"out={killed_root}/lb"], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    staged = [p for p in killed_root.iterdir() if p.name.startswith(".lb.staging.") and p.name != ".lb.staging.mine"]
    assert len(staged) == 1 and (staged[0] / "leaderboard.csv").is_file()
    capsys.readouterr()
    assert main(["leaderboard", *args, f"out={killed_root}/lb"]) == 0
    assert sorted(p.name for p in killed_root.iterdir()) == [".lb.staging.mine", "lb"]
    assert _snapshot(killed_root / "lb") == _snapshot(ref / "lb")
