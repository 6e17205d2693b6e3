"""Streaming pool reader: shard order, fp16/fp32, DataComp layout without pool.json, tars."""
import json

import numpy as np
import pandas as pd
import pytest

from pool_fixtures import make_random_pool, random_uids, unit_rows
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.uid import uids_to_array
from harness.pool.shards import write_tar
from harness.pool.writer import write_embeddings, write_metadata


def test_iter_shards_covers_pool_in_order(tmp_path):
    root = make_random_pool(tmp_path / "p", n=50, dim=4, shard_size=20, dtype=np.float16)
    pool = Pool.open(root)
    assert pool.num_rows == 50 and pool.shard_rows() == [20, 20, 10]
    offsets, total = [], 0
    for shard in pool.iter_shards(columns=["text"], embeddings=["l14_img"]):
        offsets.append(shard.offset)
        total += len(shard)
        assert shard.embeddings["l14_img"].dtype == np.float16
        assert shard.columns["text"].shape == (len(shard),)
        assert np.array_equal(shard.uids, uids_to_array(shard.uid_hex))
    assert offsets == [0, 20, 40] and total == 50
    assert pool.default_embedding == "l14"
    assert pool.fingerprint == json.loads((root / "pool.json").read_text())["fingerprint"]


def test_datacomp_metadata_dir_without_pool_json(tmp_path):
    """DataComp names metadata files by hash and ships b32 + l14 keys and no pool.json."""
    rng = np.random.default_rng(0)
    uids = random_uids(6, rng)
    stem = "0a1b2c3d4e5f"
    write_metadata(tmp_path / f"{stem}.parquet", pd.DataFrame({"uid": uids, "text": list("abcdef")}))
    e = {k: unit_rows(rng.normal(size=(6, d))) for k, d in
         [("b32_img", 512), ("b32_txt", 512), ("l14_img", 768), ("l14_txt", 768)]}
    write_embeddings(tmp_path / f"{stem}.npz", e)
    pool = Pool.open(tmp_path)
    assert pool.info == {} and pool.name == tmp_path.name
    assert pool.embedding_archs() == ["b32", "l14"] and pool.default_embedding == "l14"
    assert pool.fingerprint.startswith("names-sizes:")
    (shard,) = list(pool.iter_shards(embeddings=["b32_txt"]))
    assert shard.embeddings["b32_txt"].shape == (6, 512)
    with pytest.raises(SelbenchError, match="embedding key 'x_img' missing"):
        list(pool.iter_shards(embeddings=["x_img"]))


def test_tar_samples(tmp_path):
    root = make_random_pool(tmp_path / "p", n=3, dim=4, shard_size=3)
    uids = list(Pool.open(root).iter_shards())[0].uid_hex
    samples = [{"__key__": f"{i:09d}", "jpg": b"\xff\xd8fake", "txt": f"cap {i}",
                "json": {"uid": u}} for i, u in enumerate(uids[:2])]
    write_tar(root / "00000000.tar", samples)
    pool = Pool.open(root)
    got = list(pool.iter_tar_samples(pool.shards[0]))
    assert [json.loads(s["json"])["uid"] for s in got] == list(uids[:2])
    assert got[1]["txt"] == b"cap 1"
    from harness.pool.validate import validate_pool
    report = validate_pool(root)
    assert report.ok and report.tar_shards == 1 and report.missing_from_tars == 1


def test_missing_pool_dir(tmp_path):
    with pytest.raises(SelbenchError, match="pool directory not found"):
        Pool.open(tmp_path / "nope")


def test_analog_task_file(tmp_path):
    from pool_fixtures import write_pool
    rng = np.random.default_rng(0)
    img = unit_rows(rng.normal(size=(4, 4)))
    bare = Pool.open(write_pool(tmp_path / "bare", img, img))
    assert bare.analog_task_file("classes_l14_txt.npy") is None
    root = write_pool(tmp_path / "emb", img, img, info={"evalsets": "evalsets", "imagenet_analog": "objects"})
    assert Pool.open(root).analog_task_file("x.npy") == root / "evalsets" / "objects" / "x.npy"
