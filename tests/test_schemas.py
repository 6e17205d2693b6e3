"""The hand-off file schemas: stamping, validation, one-line errors, earlier names on read."""
import json

import pytest

from harness.errors import SelbenchError
from harness.schemas import SCHEMAS, SchemaError, read_json, stamp, validate

MANIFEST = {"strategy": "random", "version": "1", "params": {}, "budget": {"count": 20}, "seed": 3,
            "pool_fingerprint": "f" * 64, "pool": {"name": "p", "rows": 200}, "selected": 20,
            "subset": "r.npy", "subset_sha256": "a" * 64}


def test_stamp_sets_the_version_and_checks():
    out = stamp("subset manifest", MANIFEST)
    assert out["schema"] == SCHEMAS["subset manifest"].version == 1 and "schema" not in MANIFEST
    with pytest.raises(SchemaError, match="required field 'seed' is missing"):
        stamp("subset manifest", {k: v for k, v in MANIFEST.items() if k != "seed"})
    with pytest.raises(SchemaError, match="writes both 'sha256' and 'subset_sha256'"):
        stamp("subset manifest", dict(MANIFEST, sha256="b" * 64))


def test_earlier_names_are_read_and_mapped_to_the_one_name():
    # a manifest as the previous release wrote it: pool.fingerprint, no schema, no version
    old = {k: v for k, v in MANIFEST.items() if k not in ("pool_fingerprint", "version")}
    old["pool"] = {"fingerprint": "f" * 64, "name": "p", "rows": 200}
    got = validate("subset manifest", old, "old.json")
    assert got["pool_fingerprint"] == "f" * 64 and "pool_fingerprint" not in old
    legacy = {k: v for k, v in MANIFEST.items() if k != "subset_sha256"}
    assert validate("subset manifest", dict(legacy, sha256="c" * 64), "x")["subset_sha256"] == "c" * 64


@pytest.mark.parametrize("kind, data, words", [
    ("subset manifest", dict(MANIFEST, seed="3"), "field 'seed' is not an integer, got '3'"),
    ("subset manifest", dict(MANIFEST, seed=True), "field 'seed' is not an integer, got True"),
    ("subset manifest", dict(MANIFEST, schema=99), "schema 99 is newer than this selbench reads"),
    ("subset manifest", [1, 2], "not a JSON object (a subset manifest is one; got list)"),
    ("train.json", {"scale": "tiny", "seed": 0}, "required field 'subset_sha256' is missing"),
    ("eval_results.jsonl line", {"key": "k", "dataset": "d", "metrics": {}},
     "required field 'metrics.main_metric' is missing"),
    ("eval_results.jsonl line", {"key": "k", "dataset": "d", "metrics": {"main_metric": "x"}},
     "field 'metrics.main_metric' is not a number (or null), got 'x'"),
    ("eval_results.jsonl line", {"key": "k", "dataset": "d", "metrics": {"main_metric": True}},
     "field 'metrics.main_metric' is not a number (or null), got True"),
    ("pool.json", {"name": "p", "size": 3, "embedding_keys": {}}, "'fingerprint' is missing"),
    ("runtime.json", {"device": "cpu", "threads": "two"}, "field 'threads'"),
])
def test_errors_are_one_line_naming_file_and_field(kind, data, words):
    with pytest.raises(SchemaError) as info:
        validate(kind, data, "/some/file.json")
    msg = str(info.value)
    assert msg.startswith("/some/file.json: ") and words in msg and "\n" not in msg


def test_read_json(tmp_path):
    path = tmp_path / "train.json"
    path.write_text("{not json")
    with pytest.raises(SelbenchError, match=rf"{path}: not valid JSON") as info:
        read_json("train.json", path)
    assert "\n" not in str(info.value)
    path.write_text(json.dumps({"scale": "tiny", "seed": 0, "subset_sha256": "a" * 64}))
    assert read_json("train.json", path)["scale"] == "tiny"


def test_files_written_by_the_stages_carry_their_schema(test_pool, tmp_path):
    from harness.select.budget import Budget
    from harness.select.engine import run_selection

    root, info = test_pool
    assert info["schema"] == 1 and json.loads((root / "pool.json").read_text())["schema"] == 1
    m = run_selection(root, "random", {}, Budget(count=10), 0, tmp_path / "s.npy", progress=False)
    on_disk = json.loads((tmp_path / "s.json").read_text())
    assert on_disk == m and m["schema"] == 1 and m["pool_fingerprint"] == info["fingerprint"]


def test_a_manifest_of_the_previous_release_is_reused_by_training(tmp_path):
    from harness.pool.layout import Pool
    from harness.train.trainer import _selection

    from pool_fixtures import make_random_pool

    pool = Pool.open(make_random_pool(tmp_path / "pool"))
    old = {k: v for k, v in MANIFEST.items() if k not in ("pool_fingerprint", "version")}
    old["pool"] = {"fingerprint": pool.fingerprint}
    (tmp_path / "s.json").write_text(json.dumps(old))
    assert _selection(tmp_path / "s.npy", pool)["strategy"] == "random"
    old["pool"] = {"fingerprint": "0" * 64}
    (tmp_path / "s.json").write_text(json.dumps(old))
    with pytest.raises(SelbenchError, match="selected from pool fingerprint 000000000000"):
        _selection(tmp_path / "s.npy", pool)
