"""Sorted uid runs merged block by block: the sorted concatenation, equal uids included."""
import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.pool.sorted_uids import UidReader, merge_to_npy, merged_blocks, staged_readers
from harness.pool.uid import UID_DTYPE, sort_uid_array


def runs(tmp_path, sizes, seed=0, high=3):
    rng = np.random.default_rng(seed)
    paths, parts = [], []
    for i, n in enumerate(sizes):
        u = np.empty(n, dtype=UID_DTYPE)
        u["f0"], u["f1"] = rng.integers(0, high, n), rng.integers(0, high, n)  # many equal uids
        u = sort_uid_array(u)
        np.save(tmp_path / f"{i}.npy", u)
        paths.append(tmp_path / f"{i}.npy")
        parts.append(u)
    return paths, sort_uid_array(np.concatenate(parts))


@pytest.mark.parametrize("block_rows", [1, 300, 1 << 18])
def test_blocks_are_the_sorted_concatenation_with_equal_uids(tmp_path, block_rows):
    paths, want = runs(tmp_path, [0, 700, 1, 260, 999])
    blocks = list(merged_blocks([UidReader(p) for p in paths], block_rows))
    got = np.concatenate(blocks)
    assert got.tolist() == want.tolist()
    assert all(len(b) for b in blocks)


def test_merge_to_npy_writes_np_save_bytes(tmp_path):
    paths, want = runs(tmp_path, [5, 0, 300], high=2**63)
    merge_to_npy(paths, tmp_path / "m.npy", block_rows=64)
    np.save(tmp_path / "w.npy", want)
    assert (tmp_path / "m.npy").read_bytes() == (tmp_path / "w.npy").read_bytes()


@pytest.mark.parametrize("fan_in", [2, 3, 4])
def test_more_runs_than_the_fan_in_merge_through_staged_levels(tmp_path, fan_in):
    """11 runs at fan-in 2, 3 or 4 (three, two or one staged levels): the same bytes as np.save,
    equal uids kept, and only the last level left in the staging folder."""
    paths, want = runs(tmp_path, [40, 0, 7, 300, 1, 55, 90, 3, 0, 120, 64], high=50)
    merge_to_npy(paths, tmp_path / "m.npy", block_rows=32, stage=tmp_path / "stage", fan_in=fan_in)
    np.save(tmp_path / "w.npy", want)
    assert (tmp_path / "m.npy").read_bytes() == (tmp_path / "w.npy").read_bytes()
    levels = sorted(p.name for p in (tmp_path / "stage").iterdir())
    assert len(levels) == 1 and len(list((tmp_path / "stage" / levels[0]).iterdir())) <= fan_in
    readers = staged_readers(paths, tmp_path / "again", fan_in=fan_in)
    assert len(readers) <= fan_in and sum(r.rows for r in readers) == len(want)


def test_staging_is_needed_only_beyond_the_fan_in(tmp_path):
    paths, want = runs(tmp_path, [5, 6, 7])
    assert [r.rows for r in staged_readers(paths, None, fan_in=3)] == [5, 6, 7]
    with pytest.raises(SelbenchError, match="merging 3 runs .* needs a staging folder"):
        staged_readers(paths, None, fan_in=2)
    with pytest.raises(SelbenchError, match="fan-in must be >= 2"):
        staged_readers(paths, tmp_path / "s", fan_in=1)


def test_a_run_of_another_dtype_or_truncated_is_refused(tmp_path):
    np.save(tmp_path / "f.npy", np.zeros(3, np.float32))
    with pytest.raises(SelbenchError, match="expected a 1-D"):
        UidReader(tmp_path / "f.npy")
    paths, _ = runs(tmp_path, [10])
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[:-8])
    with pytest.raises(SelbenchError, match="truncated"):
        UidReader(paths[0]).read(0, 10)
