"""Resharding with DataComp's semantics, and the tar reader/writer under it."""
import json

import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.pool.shards import read_tar
from harness.pool.subset import write_subset
from harness.pool.uid import UID_DTYPE, array_to_uids
from harness.train.reshard import reshard

from .conftest import make_tar_pool, pool_uids, subset_file


def test_duplicates_missing_and_shard_sizes(tmp_path):
    pool = make_tar_pool(tmp_path / "pool", n=60, shard_size=25, not_in_tars=4)
    uids = pool_uids(pool)
    listed = uids[:20] + [uids[3]] * 2 + [uids[30]] * 3 + uids[56:60]  # last 4: not in the tars
    sub = subset_file(tmp_path / "sub.npy", listed)
    meta = reshard(pool, sub, tmp_path / "shards", max_shard_size=7, progress=False)
    assert meta["listed"] == 29 and meta["unique_listed"] == 25
    assert meta["written"] == 25 and meta["missing_from_tars"] == 4
    assert all(n <= 7 for n in meta["shards"].values()) and sum(meta["shards"].values()) == 25
    assert meta["num_shards"] == 4
    ids = array_to_uids(np.load(tmp_path / "shards" / "sample_ids.npy", allow_pickle=False))
    assert ids.count(uids[3]) == 3 and ids.count(uids[30]) == 3 and ids.count(uids[0]) == 1
    assert sorted(array_to_uids(np.load(tmp_path / "shards" / "missing_uids.npy"))) == sorted(uids[56:60])
    written = []
    for name in sorted(meta["shards"]):
        for s in read_tar(tmp_path / "shards" / name):
            written.append(json.loads(s["json"])["uid"])
            assert s["txt"].decode().startswith("a ")
    assert written == ids  # shards hold exactly sample_ids, in order
    assert json.loads((tmp_path / "shards" / "sizes.json").read_text()) == meta["shards"]
    again = reshard(pool, sub, tmp_path / "shards", max_shard_size=7, progress=False)
    assert again == meta  # reused, not rewritten


def test_reshard_is_byte_identical(tmp_path, tar_pool):
    sub = subset_file(tmp_path / "sub.npy", pool_uids(tar_pool)[::3])
    reshard(tar_pool, sub, tmp_path / "a", progress=False)
    reshard(tar_pool, sub, tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "00000000.tar").read_bytes() == (tmp_path / "b" / "00000000.tar").read_bytes()


def test_bad_subsets(tmp_path, tar_pool):
    foreign = subset_file(tmp_path / "foreign.npy", pool_uids(tar_pool)[:3] + ["ab" * 16])
    with pytest.raises(SelbenchError, match="1 uid\\(s\\) are not in pool.*abab"):
        reshard(tar_pool, foreign, tmp_path / "x", progress=False)
    empty = write_subset(tmp_path / "empty.npy", np.zeros(0, dtype=UID_DTYPE))
    with pytest.raises(SelbenchError, match="empty"):
        reshard(tar_pool, empty, tmp_path / "y", progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_damaged_tar_member_is_counted_and_the_rest_resharded(tmp_path):
    import tarfile

    pool = make_tar_pool(tmp_path / "pool", n=30, shard_size=30)
    tar = pool / "00000000.tar"
    with tarfile.open(tar) as tf:
        victim = [m for m in tf.getmembers() if m.name.endswith(".json")][4]
    data = bytearray(tar.read_bytes())
    data[victim.offset + 130] ^= 0x01  # a size digit of sample 4's .json header
    tar.write_bytes(bytes(data))
    sub = subset_file(tmp_path / "sub.npy", pool_uids(pool))
    meta = reshard(pool, sub, tmp_path / "shards", progress=False)
    assert meta["damaged_tar_members"] == 1 and meta["written"] == 29
    assert meta["missing_from_tars"] == 1
    from harness.pool.validate import validate_pool

    report = validate_pool(pool)
    assert any("1 damaged part(s) skipped (1 x bad header checksum" in p for p in report.problems)


def _outputs(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "meta.json"}


def test_output_identical_whatever_the_workers(tmp_path, ray_local):
    pool = make_tar_pool(tmp_path / "pool", n=90, shard_size=20)
    uids = pool_uids(pool)
    sub = subset_file(tmp_path / "sub.npy", uids[::2] + [uids[5]] * 2)
    reshard(pool, sub, tmp_path / "one", max_shard_size=7, progress=False)
    reshard(pool, sub, tmp_path / "two", max_shard_size=7, progress=False, workers=2)
    reshard(pool, sub, tmp_path / "ray", max_shard_size=7, progress=False, workers=2, executor="ray")
    one = _outputs(tmp_path / "one")
    assert len([n for n in one if n.endswith(".tar")]) == 7  # 47 samples in shards of 7
    assert _outputs(tmp_path / "two") == one and _outputs(tmp_path / "ray") == one
    assert not (tmp_path / "one.parts").exists()


def test_damaged_and_missing_tars_are_counted_and_the_rest_continues(tmp_path, caplog):
    pool = make_tar_pool(tmp_path / "pool", n=100, shard_size=20)
    uids = pool_uids(pool)
    sub = subset_file(tmp_path / "sub.npy", uids)
    data = (pool / "00000001.tar").read_bytes()
    (pool / "00000001.tar").write_bytes(data[:512 + 10])  # damaged: cut inside the first member
    (pool / "00000003.tar").unlink()  # missing
    meta = reshard(pool, sub, tmp_path / "out", progress=False, workers=2)
    assert meta["failed_tar_count"] == 1  # the missing tar; the damaged one is read to its end
    assert meta["failed_tars"] == [{"tar": "00000003.tar", "error": "missing"}]
    assert meta["damaged_tar_members"] == 1  # the truncated member, counted by the shard reader
    assert meta["written"] == 60 and meta["missing_from_tars"] == 40
    assert "skipped" in caplog.text
    written = {json.loads(s["json"])["uid"] for n in meta["shards"] for s in read_tar(tmp_path / "out" / n)}
    assert written == set(uids[:20] + uids[40:60] + uids[80:])
