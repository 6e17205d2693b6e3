"""Bad input to ``selbench train``: one line on stderr, exit 2, no final checkpoint."""
import json

import numpy as np
import pytest

from harness.cli import main
from harness.pool.subset import write_subset
from harness.pool.uid import UID_DTYPE

from .conftest import pool_uids, subset_file


def _train(pool, subset, out, *extra):
    return main(["train", f"pool={pool}", f"subset={subset}", f"out={out}", "progress=false", *extra])


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert err.startswith("selbench: error:") and "\n" not in err, err
    for needle in needles:
        assert needle in err, err


def test_uid_not_in_pool(tmp_path, tar_pool, capsys):
    sub = subset_file(tmp_path / "s.npy", pool_uids(tar_pool)[:5] + ["0f" * 16])
    assert _train(tar_pool, sub, tmp_path / "out") == 2
    _one_line_error(capsys, "not in pool", "0f0f0f")
    assert not (tmp_path / "out").exists()  # no run.json, no lock file: nothing left behind


def test_failed_train_leaves_existing_folder_as_it_was(tmp_path, capsys):
    """A subset none of whose samples are in the tars: an error, and no run.json or shards."""
    from .conftest import make_tar_pool

    pool = make_tar_pool(tmp_path / "rot", n=20, shard_size=10, not_in_tars=4)
    sub = subset_file(tmp_path / "s.npy", pool_uids(pool)[-4:])
    out = tmp_path / "out"
    assert _train(pool, sub, out) == 2
    _one_line_error(capsys, "none of its 4 samples")
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert _train(pool, sub, out) == 2
    assert sorted(p.name for p in out.iterdir() if p.name != ".selbench.lock") == ["notes.txt"]
    assert not (out / "run.json").exists()


def test_locked_folder_refused(tmp_path, tar_pool, capsys, lock_holder):
    """A second trainer in a folder another process works in: one line, exit 2, folder untouched."""
    import time

    from harness.lock import LOCK_NAME

    sub = subset_file(tmp_path / "s.npy", pool_uids(tar_pool)[:5])
    out = tmp_path / "out"
    with lock_holder(out) as pid:
        t0 = time.perf_counter()
        assert _train(tar_pool, sub, out) == 2
        assert time.perf_counter() - t0 < 10
        _one_line_error(capsys, "in use by another selbench process", f"pid {pid}")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]


def test_empty_subset(tmp_path, tar_pool, capsys):
    sub = write_subset(tmp_path / "e.npy", np.zeros(0, dtype=UID_DTYPE))
    assert _train(tar_pool, sub, tmp_path / "out") == 2
    _one_line_error(capsys, "empty")


def test_manifest_of_another_pool(tmp_path, tar_pool, capsys):
    sub = subset_file(tmp_path / "s.npy", pool_uids(tar_pool)[:5])
    manifest = {"strategy": "x", "params": {}, "budget": {"count": 5}, "seed": 0,
                "subset_sha256": "0" * 64, "pool_fingerprint": "f" * 64}
    sub.with_suffix(".json").write_text(json.dumps(manifest))
    assert _train(tar_pool, sub, tmp_path / "out") == 2
    _one_line_error(capsys, "pool fingerprint ffffffffffff")
    del manifest["seed"]  # a manifest is read through its schema
    sub.with_suffix(".json").write_text(json.dumps(manifest))
    assert _train(tar_pool, sub, tmp_path / "out") == 2
    _one_line_error(capsys, f"{sub.with_suffix('.json')}: required field 'seed' is missing")
    assert not (tmp_path / "out").exists()


def test_unknown_scale(tmp_path, tar_pool, capsys):
    sub = subset_file(tmp_path / "s.npy", pool_uids(tar_pool)[:5])
    assert _train(tar_pool, sub, tmp_path / "out", "scale=smal") == 2
    _one_line_error(capsys, "scale")
    from harness.train.trainer import train
    from harness.errors import SelbenchError
    with pytest.raises(SelbenchError, match="did you mean small"):
        train(tar_pool, sub, "smal", tmp_path / "out")


def test_unwritable_out(tmp_path, tar_pool, capsys):
    sub = subset_file(tmp_path / "s.npy", pool_uids(tar_pool)[:5])
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert _train(tar_pool, sub, blocker / "out") == 2
    _one_line_error(capsys, "not writable")


def test_missing_arguments(capsys):
    assert main(["train", "pool=x"]) == 2
    _one_line_error(capsys, "subset=...", "out=...")


def test_killed_reshard_leftovers_are_removed(tmp_path, tar_pool, capsys):
    """A reshard killed at any point leaves ``.shards.*.tmp`` (a file or a folder): the rerun removes it."""
    from harness.train.trainer import train

    sub = subset_file(tmp_path / "s.npy", pool_uids(tar_pool)[:5] + ["0f" * 16])
    out = tmp_path / "out"
    out.mkdir()
    (out / ".shards.abc.tmp").write_text("")      # killed right after mkstemp
    (out / ".shards.def.tmp").mkdir()             # killed while writing tars
    (out / ".shards.def.tmp" / "00000000.tar").write_bytes(b"partial")
    (out / ".run.json.1-abcdef.k2j3h4g5.tmp").write_text("{")  # any owner's: train holds the lock
    (out / "notes.tmp").write_text("mine")
    with pytest.raises(Exception, match="not in pool"):
        train(tar_pool, sub, "tiny", out, progress=False)
    assert not list(out.glob(".shards.*"))
    assert sorted(p.name for p in out.iterdir() if p.name != ".selbench.lock") == ["notes.tmp"]
