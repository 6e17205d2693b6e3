"""Resharding with DataComp's semantics, and the tar reader/writer under it."""
import io
import json

import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.pool.layout import iter_tar
from harness.pool.subset import write_subset
from harness.pool.uid import UID_DTYPE, array_to_uids
from harness.pool.writer import write_tar
from harness.train.reshard import reshard
from harness.train.tario import TarWriter, iter_samples

from .conftest import make_tar_pool, pool_uids, subset_file


def test_writer_matches_tarfile_and_reader_matches_webdataset(tmp_path, tar_pool):
    samples = [{"__key__": f"{i:012d}", "jpg": bytes([i]) * (300 + 7 * i), "txt": f"c {i}".encode()}
               for i in range(30)]
    write_tar(tmp_path / "ref.tar", samples)
    buf = io.BytesIO()
    writer = TarWriter(buf)
    for s in samples:
        writer.write(s)
    writer.close()
    assert buf.getvalue() == (tmp_path / "ref.tar").read_bytes()
    with open(tar_pool / "00000001.tar", "rb") as f:
        ours = list(iter_samples(f))
    theirs = list(iter_tar(tar_pool / "00000001.tar"))
    assert len(ours) == len(theirs) == 50
    for a, b in zip(ours, theirs):
        assert a["__key__"] == b["__key__"] and all(a[k] == b[k] for k in ("jpg", "txt", "json"))
    streamed = list(iter_samples(io.BytesIO((tar_pool / "00000001.tar").read_bytes())))
    assert streamed == ours  # a stream without a file descriptor is read, not mapped


def test_reader_refuses_a_truncated_member(tar_pool):
    data = (tar_pool / "00000001.tar").read_bytes()
    with pytest.raises(ValueError, match="truncated"):
        list(iter_samples(io.BytesIO(data[:512 + 100])))


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
        for s in iter_tar(tmp_path / "shards" / name):
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
