"""eval_results.jsonl: validation, one-line errors, torn last lines."""
import json

import pytest

from harness.errors import SelbenchError
from harness.evaluate.results import drop_torn_tail, finished_tasks, read_results

GOOD = {"key": "objects", "dataset": "Objects", "metrics": {"acc1": 0.5, "main_metric": 0.5},
        "run": {"suite": "tiny", "checkpoint_sha256": "aa"}}


def _write(path, *lines):
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def test_read_valid(tmp_path):
    lines = read_results(_write(tmp_path / "r.jsonl", GOOD, GOOD | {"key": "count", "dataset": "Count"}))
    assert [ln["key"] for ln in lines] == ["objects", "count"]


@pytest.mark.parametrize("bad", ['{"key": "x", "dataset": "X", "metrics": {"acc1": 1}',
                                 '{"key": "x", "dataset": "X", "metrics": {"acc1": 1}}',
                                 '[1, 2]',
                                 '{"key": "x", "dataset": "X", "metrics": {"main_metric": "high"}}'])
def test_corrupt_line_names_file_and_line(tmp_path, bad):
    path = _write(tmp_path / "r.jsonl", GOOD, bad)
    with pytest.raises(SelbenchError) as err:
        read_results(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:2: corrupt results line") and "\n" not in msg


def test_mixed_suites_rejected(tmp_path):
    other = GOOD | {"key": "imagenet1k", "run": {"suite": "datacomp38", "checkpoint_sha256": "aa"}}
    with pytest.raises(SelbenchError, match="several suites"):
        read_results(_write(tmp_path / "r.jsonl", GOOD, other))


def test_finished_tasks_guards_suite_and_checkpoint(tmp_path):
    path = _write(tmp_path / "r.jsonl", GOOD)
    assert set(finished_tasks(path, "tiny", "aa", {"objects", "count"})) == {"objects"}
    with pytest.raises(SelbenchError, match="another checkpoint"):
        finished_tasks(path, "tiny", "bb", {"objects"})
    with pytest.raises(SelbenchError, match="not 'datacomp38'"):
        finished_tasks(path, "datacomp38", "aa", {"imagenet1k"})


def test_torn_tail_dropped_complete_lines_kept(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + '{"key": "cou')
    assert drop_torn_tail(path) is True
    assert path.read_text() == json.dumps(GOOD) + "\n"
    assert drop_torn_tail(path) is False
    path.write_text(json.dumps(GOOD))           # complete but unterminated: terminated, kept
    assert drop_torn_tail(path) is False and path.read_text() == json.dumps(GOOD) + "\n"


def test_run_identity_carries_the_variant(tmp_path):
    from harness.evaluate.results import run_identity
    from harness.io import sha256_file

    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"weights")
    info = {"scale": "tiny", "checkpoint_sha256": sha256_file(ckpt),
            "selection": {"strategy": "normsim", "variant": "normsim_p2", "params": {"p": "2"},
                          "budget": {"fraction": 0.3}, "seed": 0}}
    run = run_identity(ckpt, "tiny", "selbench-tiny", info)
    assert (run["strategy"], run["variant"], run["params"]) == ("normsim", "normsim_p2", {"p": "2"})
    assert "variant" not in run_identity(ckpt, "tiny", "m", {})  # only a variant carries one
