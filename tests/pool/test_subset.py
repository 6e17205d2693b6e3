"""Subset files: sorted u8,u8 .npy, written atomically, read with checks."""
import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.pool.subset import is_sorted, read_subset, write_subset
from harness.pool.uid import UID_DTYPE, uids_to_array


def test_write_sorts_and_reads_back(tmp_path):
    uids = ["f" * 32, "0" * 31 + "1", "1" + "0" * 31, "0" * 31 + "1"]
    path = write_subset(tmp_path / "s.npy", uids_to_array(uids))
    arr = np.load(path, allow_pickle=False)
    assert arr.dtype == np.dtype("u8,u8")
    assert is_sorted(arr)
    assert [tuple(map(int, x)) for x in arr] == [(0, 1), (0, 1), (2**60, 0), (2**64 - 1, 2**64 - 1)]
    assert np.array_equal(read_subset(path), arr)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npy"]


def test_same_input_gives_identical_bytes(tmp_path):
    arr = uids_to_array([f"{i * 7919:032x}" for i in range(50)])
    a = write_subset(tmp_path / "a.npy", arr[::-1].copy())
    b = write_subset(tmp_path / "b.npy", arr)
    assert a.read_bytes() == b.read_bytes()


def test_read_rejects_unsorted(tmp_path):
    arr = uids_to_array(["f" * 32, "0" * 32])
    np.save(tmp_path / "u.npy", arr)
    with pytest.raises(SelbenchError, match=r"u\.npy: subset uids are not sorted"):
        read_subset(tmp_path / "u.npy")


def test_read_rejects_wrong_dtype_and_missing(tmp_path):
    np.save(tmp_path / "w.npy", np.arange(4, dtype=np.int64))
    with pytest.raises(SelbenchError, match=r"w\.npy: subset dtype"):
        read_subset(tmp_path / "w.npy")
    with pytest.raises(SelbenchError, match="not found"):
        read_subset(tmp_path / "missing.npy")
    (tmp_path / "junk.npy").write_bytes(b"not a npy")
    with pytest.raises(SelbenchError, match="junk.npy"):
        read_subset(tmp_path / "junk.npy")


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(SelbenchError):
        write_subset(tmp_path / "x.npy", np.zeros(3, dtype=np.int64))
    assert list(tmp_path.iterdir()) == []


def test_is_sorted_on_ties_and_empty():
    assert is_sorted(np.zeros(0, dtype=UID_DTYPE))
    assert is_sorted(uids_to_array(["0" * 32, "0" * 32]))
