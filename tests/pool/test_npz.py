"""Reading .npz members without copies (harness.pool.npz)."""
import zipfile

import numpy as np
import pytest

from harness.pool.npz import NpzKeyError, read_npz


def _arrays():
    rng = np.random.default_rng(0)
    return {"l14_img": rng.normal(size=(7, 5)).astype(np.float16),
            "l14_txt": rng.normal(size=(7, 5)).astype(np.float32),
            "fortran": np.asfortranarray(rng.normal(size=(4, 3))),
            "empty": np.zeros((0, 5), np.float16)}


def test_stored_members_are_mapped_and_equal_np_load(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, **_arrays())
    before = path.read_bytes()
    got = read_npz(path, ["l14_img", "l14_txt", "fortran", "empty"])
    with np.load(path, allow_pickle=False) as ref:
        for key, arr in got.items():
            assert arr.dtype == ref[key].dtype and arr.shape == ref[key].shape
            np.testing.assert_array_equal(arr, ref[key])
    assert isinstance(got["l14_img"], np.memmap) and isinstance(got["l14_txt"], np.memmap)
    got["l14_img"][0, 0] = 42                      # copy-on-write: the file is untouched
    assert path.read_bytes() == before


def test_deflated_members_are_read(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, **_arrays())
    got = read_npz(path, ["l14_txt"])
    assert not isinstance(got["l14_txt"], np.memmap)
    np.testing.assert_array_equal(got["l14_txt"], _arrays()["l14_txt"])


def test_missing_key_lists_the_members(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, **_arrays())
    with pytest.raises(NpzKeyError) as err:
        read_npz(path, ["b32_img"])
    assert err.value.key == "b32_img" and err.value.available == ["empty", "fortran", "l14_img", "l14_txt"]


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, bad=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="object arrays"):
        read_npz(path, ["bad"])


def test_member_shorter_than_its_header_says_is_refused(tmp_path):
    good = tmp_path / "a.npz"
    np.save(tmp_path / "x.npy", np.ones((10, 4), np.float32))
    data = (tmp_path / "x.npy").read_bytes()
    with zipfile.ZipFile(good, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("x.npy", data[:-16])           # header promises 160 data bytes, has 144
    with pytest.raises(ValueError, match="x.npy: 272 bytes, header says 288"):
        read_npz(good, ["x"])
