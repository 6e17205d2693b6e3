"""Pool validation: a valid pool passes; each kind of breakage is one line naming file and row."""
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pool_fixtures import make_random_pool, unit_rows
from harness.cli import main
from harness.pool.validate import validate_pool
from harness.pool.writer import write_embeddings, write_metadata


@pytest.fixture
def pool(tmp_path):
    return make_random_pool(tmp_path / "pool", n=40, dim=8, shard_size=16)


def run_validate(pool, capsys):
    """Exit status and stdout lines; a failure is also exactly one error line on stderr."""
    rc = main(["pool", "validate", f"pool={pool}"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    if rc != 0:
        assert err.count("\n") == 1 and err.startswith("selbench: error: invalid pool: "), err
        assert lines[0] in err  # the first problem, on stderr too
        assert len(lines) == 1 or f"{len(lines)} problems in all" in err
    return rc, lines


def test_valid_pool_summary(pool, capsys):
    rc, lines = run_validate(pool, capsys)
    assert rc == 0
    assert "shards: 3" in lines and "rows: 40" in lines
    assert "embeddings: l14_img (8-d), l14_txt (8-d)" in lines
    assert lines[-1] == "pool is valid"


def _rewrite_npz(path, **changes):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        arrays.pop(key)
    write_embeddings(path, arrays, dtype=np.float32)


def test_row_count_mismatch(pool, capsys):
    npz = pool / "00000001.npz"
    with np.load(npz) as f:
        img, txt = f["l14_img"], f["l14_txt"]
    _rewrite_npz(npz, l14_img=img[:-1], l14_txt=txt[:-1])
    rc, lines = run_validate(pool, capsys)
    assert rc == 2
    assert any("00000001.npz: l14_img has 15 rows but 00000001.parquet has 16" in l for l in lines)


def test_nan_embedding(pool, capsys):
    npz = pool / "00000000.npz"
    with np.load(npz) as f:
        img = f["l14_img"].astype(np.float32)
    img[5, 2] = np.nan
    _rewrite_npz(npz, l14_img=img)
    rc, lines = run_validate(pool, capsys)
    assert rc == 2
    assert any("00000000.npz: l14_img row 5: non-finite" in l for l in lines)


def test_not_unit_norm(pool, capsys):
    npz = pool / "00000002.npz"
    with np.load(npz) as f:
        txt = f["l14_txt"].astype(np.float32)
    txt[3] *= 1.5
    _rewrite_npz(npz, l14_txt=txt)
    rc, lines = run_validate(pool, capsys)
    assert rc == 2 and any("00000002.npz: l14_txt row 3: norm 1.5000" in l for l in lines)


def test_missing_paired_key(pool, capsys):
    _rewrite_npz(pool / "00000000.npz", l14_txt=None)
    rc, lines = run_validate(pool, capsys)
    assert rc == 2 and any("00000000.npz: key l14_img has no paired l14_txt" in l for l in lines)


def _edit_parquet(path, fn):
    frame = pq.read_table(path).to_pandas()
    write_metadata(path, fn(frame))


def test_duplicate_uid(pool, capsys):
    first = pq.read_table(pool / "00000000.parquet").column("uid")[0].as_py()

    def dup(frame):
        frame.loc[4, "uid"] = first
        return frame

    _edit_parquet(pool / "00000001.parquet", dup)
    rc, lines = run_validate(pool, capsys)
    assert rc == 2
    assert any(f"duplicate uid {first} (00000001.parquet row 4, also 00000000.parquet row 0" in l for l in lines)


def test_non_hex_uid(pool, capsys):
    def bad(frame):
        frame.loc[2, "uid"] = "z" * 32
        return frame

    _edit_parquet(pool / "00000000.parquet", bad)
    rc, lines = run_validate(pool, capsys)
    assert rc == 2 and any("00000000.parquet: row 2: uid 'zzzz" in l for l in lines)


def test_truncated_parquet(pool, capsys):
    path = pool / "00000002.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    rc, lines = run_validate(pool, capsys)
    assert rc == 2 and any("00000002.parquet: unreadable parquet" in l for l in lines)
    assert all("\n" not in l for l in lines)


def test_missing_uid_column(pool, capsys):
    path = pool / "00000000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.rename_columns(["key" if c == "uid" else c for c in table.column_names]), path)
    rc, lines = run_validate(pool, capsys)
    assert rc == 2 and any("00000000.parquet: no 'uid' column" in l for l in lines)


def test_not_a_pool(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["pool", "validate", f"pool={tmp_path / 'empty'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no metadata shards" in err[0]


def test_validate_needs_pool_argument(capsys):
    assert main(["pool", "validate"]) == 2
    assert "pool=DIR" in capsys.readouterr().err


def test_report_counts_fp16_pools(tmp_path):
    rng = np.random.default_rng(1)
    img = unit_rows(rng.normal(size=(10, 4)))
    from pool_fixtures import write_pool
    root = write_pool(tmp_path / "p", img, img, dtype=np.float16)
    report = validate_pool(root)
    assert report.ok and report.rows == 10
