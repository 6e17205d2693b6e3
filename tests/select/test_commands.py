"""`selbench select` through the CLI: a summary on success, one-line errors and no files on failure."""
import numpy as np
import pandas as pd
import pytest

from pool_fixtures import make_random_pool, write_pool
from harness.cli import main
from harness.pool.subset import read_subset


def run_cli(capsys, *args):
    rc = main(["select", "progress=false", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_select_prints_a_summary_with_the_audit(random_pool, tmp_path, capsys):
    hexes = pd.concat(pd.read_parquet(p) for p in sorted(random_pool.glob("0*.parquet")))["uid"]
    pd.DataFrame({"uid": hexes, "defect": ["clean", "mismatch"] * 100,
                  "concept": [f"c{i % 7}" for i in range(200)]}).to_parquet(random_pool / "audit.parquet")
    out = tmp_path / "s" / "clip.npy"
    rc, text, err = run_cli(capsys, f"pool={random_pool}", "strategy=clip_score", "budget.fraction=0.3",
                            f"out={out}", "seed=1")
    assert rc == 0 and err == ""
    assert text.startswith("Selected 60 of 200 rows (30.0%) of pool pool with clip_score "
                           "(source=auto, embeddings l14) under budget fraction=0.3, seed 1")
    assert f"{out.with_suffix('.json')}" in text and "Audit: kept " in text and "% of mismatch" in text
    assert len(text.strip().splitlines()) == 1 and len(read_subset(out)) == 60


def test_strategy_params_and_budget_forms(random_pool, tmp_path, capsys):
    rc, text, _ = run_cli(capsys, f"pool={random_pool}", "strategy=then", "strategy.a.name=clip_score",
                          "strategy.a_fraction=0.5", "strategy.b.name=clip_score",
                          "strategy.b.embedding=l14", "budget.count=12", f"out={tmp_path / 't.npy'}")
    assert rc == 0 and len(read_subset(tmp_path / "t.npy")) == 12
    rc, text, _ = run_cli(capsys, f"pool={random_pool}", "strategy=no_filter", "budget=none",
                          f"out={tmp_path / 'n.npy'}")
    assert rc == 0 and len(read_subset(tmp_path / "n.npy")) == 200
    rc, text, _ = run_cli(capsys, f"pool={random_pool}", "strategy=clip_score", "budget.threshold=0.5",
                          f"out={tmp_path / 'h.npy'}")
    assert rc == 0 and "threshold=0.5" in text


def nan_pool(root):
    img = np.ones((5, 3)) / np.sqrt(3)
    img[3, 2] = np.nan
    return write_pool(root, img, img, dtype=np.float32)


def empty_pool(root):
    write_pool(root, np.ones((2, 3)), np.ones((2, 3)))
    pd.read_parquet(root / "00000000.parquet").iloc[:0].to_parquet(root / "00000000.parquet")
    return root


@pytest.mark.parametrize("make, args, message", [
    (None, ["strategy=clip_scor", "budget.count=3"],
     "unknown strategy 'clip_scor'; did you mean clip_score"),
    (None, ["strategy=clip_score", "budget.count=201"], "budget.count=201 is outside 1..200"),
    (None, ["strategy=random", "budget.count=0"], "budget.count=0 is outside 1..200"),
    (None, ["strategy=random", "budget.fraction=-0.1"], r"budget.fraction=-0.1 is outside (0, 1]"),
    (None, ["strategy=random", "budget.fraction=1.5"], r"budget.fraction=1.5 is outside (0, 1]"),
    (None, ["strategy=random"], "exactly one budget mode is needed (got: none)"),
    (None, ["strategy=random", "budget.count=3", "budget.fraction=0.1"], "exactly one budget mode"),
    (None, ["strategy=clip_score", "budget.count=3", "strategy.embedding=b32"],
     "embedding key(s) b32_img, b32_txt needed by clip_score are missing"),
    (None, ["strategy=clip_score", "budget.count=3", "strategy.alpha=2"],
     "unknown parameter(s) alpha for strategy clip_score (valid: embedding, source, datacomp_fraction)"),
    (None, ["strategy=random", "budget=none"], "random has no natural size"),
    (None, ["strategy=no_filter", "budget.fraction=0.5"], "no_filter keeps the whole pool"),
    (None, ["budget.count=3"], "select needs strategy=NAME"),
    (nan_pool, ["strategy=clip_score", "strategy.source=embeddings", "budget.count=2"], "00000000.npz: l14_img row 3: non-finite"),
    (empty_pool, ["strategy=random", "budget.count=1"], "the pool has no rows"),
    ("nothing", ["strategy=random", "budget.count=1"], "no metadata shards"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, make, args, message):
    root = tmp_path / "pool"
    if make is None:
        make_random_pool(root)
    elif make == "nothing":
        root.mkdir()
    else:
        make(root)
    out_dir = tmp_path / "out"
    rc, text, err = run_cli(capsys, f"pool={root}", f"out={out_dir / 'sel.npy'}", *args)
    assert rc == 2 and text == ""
    assert err.startswith("selbench: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_unrelated_files_are_not_overwritten(random_pool, tmp_path, capsys):
    """`out=X.npy` beside someone's X.json (or an X.npy of unknown origin): refused unless overwrite=true."""
    out = tmp_path / "sel.npy"
    notes = out.with_suffix(".json")
    notes.write_text('{"my": "notes"}')
    args = [f"pool={random_pool}", "strategy=random", "budget.count=5", f"out={out}"]
    rc, _, err = run_cli(capsys, *args)
    assert rc == 2 and err.count("\n") == 1 and "overwrite=true" in err
    assert notes.read_text() == '{"my": "notes"}' and not out.exists()
    notes.unlink()
    out.write_bytes(b"a DataComp subset from elsewhere")
    rc, _, err = run_cli(capsys, *args)
    assert rc == 2 and "overwrite=true" in err and out.read_bytes() == b"a DataComp subset from elsewhere"
    rc, _, err = run_cli(capsys, *args, "overwrite=true")
    assert rc == 0 and len(read_subset(out)) == 5
    # a previous selection of that name is selbench's own: replaced without overwrite=true
    rc, _, err = run_cli(capsys, f"pool={random_pool}", "strategy=random", "budget.count=7", f"out={out}")
    assert rc == 0 and len(read_subset(out)) == 7


@pytest.mark.parametrize("where, message", [
    ("dir.npy", "is a directory"), ("file/sub.npy", "is not a directory"),
    ("ro/sel.npy", "is not writable")])
def test_bad_out_locations(random_pool, tmp_path, capsys, where, message):
    import os

    (tmp_path / "dir.npy").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o555)
    try:
        if where.startswith("ro/") and os.access(tmp_path / "ro", os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        rc, _, err = run_cli(capsys, f"pool={random_pool}", "strategy=random", "budget.count=5",
                             f"out={tmp_path / where}")
        assert rc == 2 and err.count("\n") == 1 and message in err, err
        assert "Traceback" not in err
    finally:
        os.chmod(tmp_path / "ro", 0o755)


def test_rerun_after_a_kill_between_the_two_renames(random_pool, tmp_path, capsys):
    """X.npy in place, its manifest still under the temporary name (SIGKILL): the rerun resumes."""
    out = tmp_path / "sel.npy"
    args = [f"pool={random_pool}", "strategy=random", "budget.count=5", f"out={out}"]
    assert run_cli(capsys, *args)[0] == 0
    reference = out.read_bytes()
    from test_io import dead_pid

    from harness.io import owner_tag

    stale = tmp_path / f".sel.json.{dead_pid()}-{owner_tag().split('-')[1]}.abc123.tmp"
    out.with_suffix(".json").rename(stale)
    rc, _, err = run_cli(capsys, *args)
    assert rc == 0, err
    assert out.read_bytes() == reference and out.with_suffix(".json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool", "sel.json", "sel.npy"]  # no stale manifest


KILL_MID_WRITE = """
import os, signal, sys
import harness.select.engine as engine
from harness.cli import main

def killed(path, *args, **kwargs):  # the subset is written, the manifest not yet: SIGKILL
    os.kill(os.getpid(), signal.SIGKILL)

engine.sha256_file = killed
main(sys.argv[1:])
"""


def test_select_killed_mid_write_leaves_nothing_after_a_rerun(random_pool, tmp_path, capsys):
    """A select SIGKILLed while writing leaves its temporaries; the rerun removes them and leaves
    exactly what an uninterrupted select leaves."""
    import subprocess
    import sys

    args = [f"pool={random_pool}", "strategy=random", "budget.count=5"]
    ref, out = tmp_path / "ref", tmp_path / "killed"
    ref.mkdir()
    out.mkdir()
    (out / "notes.tmp").write_text("mine")  # not a selbench temporary: never touched
    assert run_cli(capsys, *args, f"out={ref}/sel.npy")[0] == 0
    killed = subprocess.run([sys.executable, "-c", KILL_MID_WRITE, "select", "progress=false", *args,
                             f"out={out}/sel.npy"], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    left = sorted(p.name for p in out.iterdir())
    assert any(n.startswith(".sel.npy.") and n.endswith(".tmp.npy") for n in left), left
    assert any(n.startswith(".sel.json.") and n.endswith(".tmp") for n in left), left
    rc, _, err = run_cli(capsys, *args, f"out={out}/sel.npy")
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["notes.tmp", "sel.json", "sel.npy"]
    assert (out / "sel.npy").read_bytes() == (ref / "sel.npy").read_bytes()
