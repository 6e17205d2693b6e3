"""The pool rules (``harness.pool.rules``): ``pool validate`` and ``require_pool_rules`` (select,
train) report the same first problem; a pool that passed is rechecked only when a file changes."""
import numpy as np
import pytest

from pool_fixtures import make_random_pool
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.rules import (PoolCheck, block_problem, first_problem, nonfinite_rows,
                                require_pool_rules, value_problems)
from harness.pool.validate import validate_pool


def _rewrite(npz, **changes):
    with np.load(npz, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(changes)
    npz.unlink()
    np.savez(npz, **arrays)


BREAKS = {
    "widths": lambda a: {"l14_txt": a["l14_txt"][:, :4] / np.linalg.norm(a["l14_txt"][:, :4], axis=1,
                                                                         keepdims=True)},
    "int32": lambda a: {"l14_img": np.ones_like(a["l14_img"], dtype=np.int32)},
    "float64": lambda a: {"l14_img": a["l14_img"].astype(np.float64)},
    "nan": lambda a: {"l14_img": np.where(np.arange(len(a["l14_img"]))[:, None] == 2, np.nan,
                                          a["l14_img"]).astype(np.float32)},
}


@pytest.mark.parametrize("kind", list(BREAKS))
def test_validate_and_select_see_the_same_first_problem(tmp_path, kind):
    root = make_random_pool(tmp_path / "pool", n=40, dim=8, shard_size=16)
    npz = root / "00000001.npz"
    with np.load(npz, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    _rewrite(npz, **BREAKS[kind](arrays))
    report = validate_pool(root)
    assert not report.ok and "00000001.npz" in report.problems[0]
    with pytest.raises(SelbenchError) as exc:
        require_pool_rules(Pool.open(root))
    assert report.problems[0] in str(exc.value) and "\n" not in str(exc.value)


def test_duplicates_across_shards_name_both_rows(tmp_path):
    import pyarrow.parquet as pq

    root = make_random_pool(tmp_path / "pool", n=40, dim=8, shard_size=16)
    t0 = pq.read_table(root / "00000000.parquet")
    t2 = pq.read_table(root / "00000002.parquet")
    uids = t2.column("uid").to_pylist()
    uids[1] = t0.column("uid")[5].as_py().upper()  # uids compare case-insensitively
    pq.write_table(t2.set_column(t2.column_names.index("uid"), "uid", [uids]), root / "00000002.parquet")
    problems = list(PoolCheck().problems(Pool.open(root)))
    assert len(problems) == 1 and "(00000002.parquet row 1, also 00000000.parquet row 5;" in problems[0]


def test_a_pool_that_passed_is_rechecked_when_a_file_changes(tmp_path):
    root = make_random_pool(tmp_path / "pool", n=40, dim=8, shard_size=16)
    require_pool_rules(Pool.open(root))
    require_pool_rules(Pool.open(root))  # unchanged: not read again
    npz = root / "00000000.npz"
    with np.load(npz, allow_pickle=False) as f:
        img = f["l14_img"].astype(np.float32)
    img[0] *= 3
    _rewrite(npz, l14_img=img)
    with pytest.raises(SelbenchError, match=r"00000000\.npz: l14_img row 0: norm 3\.0000"):
        require_pool_rules(Pool.open(root))


def test_value_problems_hand_checked():
    a = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 2.0], [np.inf, 0.0]], dtype=np.float32)
    assert list(value_problems(a[:2], "x")) == []
    assert list(value_problems(a[:3], "x")) == ["x row 2: norm 2.0000 is not 1 within 0.01 (1 rows in all)"]
    assert list(value_problems(a, "x", rows=2)) == ["x row 3: non-finite values (1 rows in all)"]


def test_opposite_infinities_in_one_row_are_caught():
    block = np.zeros((3, 4), np.float32)
    block[1, 0], block[1, 1] = np.inf, -np.inf      # the row sum is NaN, not inf
    assert nonfinite_rows(block).tolist() == [False, True, False]


def test_large_finite_rows_whose_sum_overflows_pass():
    block = np.full((2, 4), 3e38, np.float32)        # row sums overflow to inf; values are finite
    assert nonfinite_rows(block) is None
    assert block_problem(block, "x", 10) == "x row 10: norm inf is not 1 within 0.01"


def test_block_problem_hand_checked():
    a = np.array([[1, 0], [0.6, 0.8], [0, 2], [np.nan, 0]], np.float32)
    assert block_problem(a[:2], "x") is None
    assert block_problem(a[:3], "x", 100) == "x row 102: norm 2.0000 is not 1 within 0.01"
    assert block_problem(a, "x", 100) == "x row 103: non-finite values"   # non-finite first


def _serial_first(root):
    return next(iter(PoolCheck(values=True).problems(Pool.open(root))), None)


def _break_pool(root, kind):
    import pyarrow.parquet as pq

    if kind in BREAKS:
        npz = root / "00000001.npz"
        with np.load(npz, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        _rewrite(npz, **BREAKS[kind](arrays))
        return
    t = pq.read_table(root / "00000002.parquet")
    uids = t.column("uid").to_pylist()
    if kind == "dup_across":  # two copies in shard 2, a third in shard 0: the earliest two named
        uids[3] = uids[7] = pq.read_table(root / "00000000.parquet").column("uid")[5].as_py()
    elif kind == "dup_within":
        uids[0] = uids[6]
    elif kind == "hex":
        uids[2] = "g" * 32
    pq.write_table(t.set_column(t.column_names.index("uid"), "uid", [uids]), root / "00000002.parquet")


@pytest.mark.parametrize("kind", [*BREAKS, "dup_across", "dup_within", "hex", "none"])
def test_sharded_check_finds_the_serial_first_problem(tmp_path, kind):
    # first_problem checks shards as tasks and compares uids through sorted per-shard files:
    # it must name the same first problem as PoolCheck over the whole pool in one process
    root = make_random_pool(tmp_path / "pool", n=60, dim=8, shard_size=16)
    if kind != "none":
        _break_pool(root, kind)
    want = _serial_first(root)
    assert (want is None) == (kind == "none")
    folder = tmp_path / "rules"
    got = first_problem(Pool.open(root), lambda fn, items: [fn(i) for i in items], folder)
    assert got == want
    assert not folder.exists()  # removed after the check
    if kind == "dup_across":
        assert "(00000000.parquet row 5" not in got and "also 00000000.parquet row 5; 2 duplicate" in got


@pytest.mark.parametrize("kind", ["dup_across", "dup_within", "none"])
def test_duplicate_check_over_more_shards_than_a_merge_reads_at_once(tmp_path, monkeypatch, kind):
    """Over MERGE_FAN_IN shards, the per-shard uid files are merged in staged groups first:
    the same first problem (duplicate count included) as the serial check."""
    from harness.pool import sorted_uids

    monkeypatch.setattr(sorted_uids, "MERGE_FAN_IN", 2)
    root = make_random_pool(tmp_path / "pool", n=60, dim=8, shard_size=8)  # 8 shards
    if kind != "none":
        _break_pool(root, kind)
    assert first_problem(Pool.open(root), None, tmp_path / "rules") == _serial_first(root)
    assert not (tmp_path / "rules").exists()


def test_sharded_check_runs_in_worker_processes(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    root = make_random_pool(tmp_path / "pool", n=60, dim=8, shard_size=16)
    _break_pool(root, "dup_across")

    def map_items(fn, items):
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            return list(ex.map(fn, items))

    assert first_problem(Pool.open(root), map_items, tmp_path / "rules") == _serial_first(root)


def test_check_folder_in_tmp_is_removed_and_a_killed_checks_folder_goes_next_time(tmp_path, monkeypatch):
    """Without a folder the check's uid files go to a temporary folder named by its owner;
    it is removed after, and one a killed check left (owner gone) is removed by the next check."""
    import tempfile

    from pool_fixtures import dead_pid
    from harness.io import owner_tag
    from harness.pool.rules import RULES_TMP_PREFIX

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    host = owner_tag().split("-")[1]
    stale = tmp_path / "tmp" / f"{RULES_TMP_PREFIX}{dead_pid()}-{host}.k1lled_1"
    live = tmp_path / "tmp" / f"{RULES_TMP_PREFIX}{owner_tag()}.running"
    other = tmp_path / "tmp" / "selbench-rules-not-ours"
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "00000000.npy").write_bytes(b"uids")
    root = make_random_pool(tmp_path / "pool", n=60, shard_size=20)
    assert first_problem(Pool.open(root)) is None
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == sorted([live.name, other.name])
