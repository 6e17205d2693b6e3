"""`selbench submit`: copies what a result needs to be checked, refuses incomplete suites."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import SelbenchError
from harness.io import sha256_file
from harness.leaderboard.build import build_leaderboard
from harness.leaderboard.submit import submit
from leaderboard_fixtures import ALPHA, audit_of, write_run


@pytest.fixture
def run_dir(tmp_path):
    """One finished run in `selbench run`'s layout, with command.txt at the sweep root."""
    results = write_run(tmp_path / "sweep", "alpha", 0, ALPHA, audit=audit_of("alpha", 0))
    (tmp_path / "sweep" / "command.txt").write_text("selbench run strategies=[alpha]\n")
    run = results.parent.parent
    (run / "config.yaml").write_text("scale: tiny\n")
    return run


def test_submit_copies_files(run_dir, tmp_path, capsys):
    root = tmp_path / "leaderboards"
    assert main(["submit", f"run={run_dir}", "name=my-method", f"leaderboards_dir={root}"]) == 0
    dest = root / "tiny" / "submissions" / "my-method"
    assert f"submitted my-method to {dest}" in capsys.readouterr().out
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["command.txt", "config.yaml", "eval_results.jsonl", "submission.json",
                     "subset.json", "train.json"]
    assert (dest / "eval_results.jsonl").read_bytes() == (run_dir / "eval" / "eval_results.jsonl").read_bytes()
    assert (dest / "command.txt").read_text() == "selbench run strategies=[alpha]\n"
    record = json.loads((dest / "submission.json").read_text())
    assert record["name"] == "my-method" and record["strategy"] == "alpha" and record["scale"] == "tiny"
    assert record["scores"]["ImageNet"] == pytest.approx(0.50)
    assert record["files"]["train.json"] == sha256_file(dest / "train.json")
    # the scale's tables rebuild from the submissions, with the audit from subset.json
    board = build_leaderboard([root / "tiny"], root / "tiny")
    assert len(board["runs"]) == 1 and "audit_defects" in board["plots"]
    assert (root / "tiny" / "leaderboard.html").is_file()


def test_refuses_incomplete_suite(tmp_path, capsys):
    partial = {k: v for k, v in ALPHA.items() if k != "retrieval"}
    run = write_run(tmp_path / "sweep", "alpha", 0, partial).parent.parent
    root = tmp_path / "leaderboards"
    assert main(["submit", f"run={run}", "name=partial", f"leaderboards_dir={root}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "incomplete tiny suite: missing retrieval" in err
    assert not (root / "tiny" / "submissions" / "partial").exists()


def test_refusals(run_dir, tmp_path):
    root = tmp_path / "leaderboards"
    with pytest.raises(SelbenchError, match="trained at scale 'tiny', not 'small'"):
        submit(run_dir, "x", scale="small", leaderboards_dir=root)
    with pytest.raises(SelbenchError, match="may hold only"):
        submit(run_dir, "../x", leaderboards_dir=root)
    submit(run_dir, "x", leaderboards_dir=root)
    with pytest.raises(SelbenchError, match="already exists"):
        submit(run_dir, "x", leaderboards_dir=root)
    train = run_dir / "train" / "train.json"
    info = json.loads(train.read_text())
    train.write_text(json.dumps(dict(info, checkpoint_sha256="0" * 64)))
    with pytest.raises(SelbenchError, match="checkpoint sha256 differs"):
        submit(run_dir, "y", leaderboards_dir=root)
    train.unlink()
    with pytest.raises(SelbenchError, match="not finished: missing .*train.json"):
        submit(run_dir, "y", leaderboards_dir=root)
    assert sorted(p.name for p in (root / "tiny" / "submissions").iterdir()) == ["x"]


def test_a_killed_submits_staging_is_removed_by_the_next(run_dir, tmp_path):
    """A submit killed while copying leaves its staging folder; the next submit of that name
    removes it once its owner is gone, and leaves a live one's alone."""
    from pool_fixtures import dead_pid
    from harness.io import owner_tag

    folder = tmp_path / "leaderboards" / "tiny" / "submissions"
    folder.mkdir(parents=True)
    host = owner_tag().split("-")[1]
    stale = folder / f".my-method.staging.{dead_pid()}-{host}.k1lled_1"
    live = folder / f".my-method.staging.{owner_tag()}.running"
    for stage in (stale, live):
        stage.mkdir()
        (stage / "train.json").write_text("{}")
    dest = submit(run_dir, "my-method", leaderboards_dir=tmp_path / "leaderboards")
    assert sorted(p.name for p in folder.iterdir()) == sorted([live.name, dest.name])


def test_submit_scale_as_shown_in_the_readme(run_dir, tmp_path, capsys):
    """`submit scale=tiny` (a scale name) is accepted when it is the run's; another is refused."""
    root = tmp_path / "leaderboards"
    assert main(["submit", f"run={run_dir}", "name=m", "scale=tiny", f"leaderboards_dir={root}"]) == 0
    assert (root / "tiny" / "submissions" / "m" / "submission.json").is_file()
    capsys.readouterr()
    assert main(["submit", f"run={run_dir}", "name=n", "scale=small", f"leaderboards_dir={root}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not 'small'" in err


@pytest.mark.parametrize("scale", ["../../escaped", "..", "/tmp/selbench-escaped", "a/b", "tiny\nx"])
def test_scale_from_a_result_file_cannot_leave_the_folder(tmp_path, capsys, scale):
    """A forged run.scale (``..``, absolute, nested) is refused; nothing is written anywhere."""
    results = write_run(tmp_path / "sweep", "alpha", 0, ALPHA, scale=scale)
    run = results.parent.parent
    root = tmp_path / "deep" / "leaderboards"
    before = sorted(p for p in tmp_path.rglob("*"))
    assert main(["submit", f"run={run}", "name=evil", f"leaderboards_dir={root}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a valid name" in err and "Traceback" not in err
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/selbench-escaped").exists()


def test_symlinked_scale_folder_is_refused(run_dir, tmp_path, capsys):
    """``<leaderboards>/tiny`` a link to another folder: refused, the other folder untouched."""
    root = tmp_path / "leaderboards"
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "tiny").symlink_to(outside, target_is_directory=True)
    assert main(["submit", f"run={run_dir}", "name=m", f"leaderboards_dir={root}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "symbolic link" in err
    assert list(outside.iterdir()) == []
    (root / "tiny").unlink()
    (root / "tiny").mkdir()
    (root / "tiny" / "submissions").symlink_to(outside, target_is_directory=True)
    assert main(["submit", f"run={run_dir}", "name=m", f"leaderboards_dir={root}"]) == 2
    assert list(outside.iterdir()) == []


def test_symlinked_submission_name_is_not_followed(run_dir, tmp_path):
    """A dangling link where the submission would go counts as taken (never written through)."""
    root = tmp_path / "leaderboards"
    (root / "tiny" / "submissions").mkdir(parents=True)
    (root / "tiny" / "submissions" / "m").symlink_to(tmp_path / "nowhere")
    with pytest.raises(SelbenchError, match="already exists"):
        submit(run_dir, "m", leaderboards_dir=root)
    assert not (tmp_path / "nowhere").exists()
