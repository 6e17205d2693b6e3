"""A selection's identity includes the content of the files it reads besides the pool."""
import json

import pytest

from harness.select.base import Budget
from harness.select.engine import run_selection


@pytest.mark.parametrize("strategy, budget, expected", [
    ("clipcov", Budget(fraction=0.3), "evalsets/objects/classes_teacher_txt.npy"),
    ("datacomp_image", Budget(natural=True), "evalsets/objects/train_teacher_img.npy"),
    ("metaclip", Budget(fraction=0.3), None),  # the pool's metaclip_metadata file
    ("normsim", Budget(fraction=0.3), "evalsets/objects_sketch/train_teacher_img.npy"),
])
def test_manifest_records_input_files(test_pool, tmp_path, strategy, budget, expected):
    root, info = test_pool
    expected = expected or info["metaclip_metadata"]
    manifest = run_selection(root, strategy, {}, budget, 0, tmp_path / "s.npy", progress=False)
    assert expected in manifest["inputs"]
    assert all(len(v) == 64 for v in manifest["inputs"].values())
    on_disk = json.loads((tmp_path / "s.json").read_text())
    assert on_disk["inputs"] == manifest["inputs"]


def test_strategies_without_input_files_record_none(test_pool, tmp_path):
    root, _ = test_pool
    manifest = run_selection(root, "clip_score", {}, Budget(fraction=0.3), 0, tmp_path / "s.npy",
                             progress=False)
    assert "inputs" not in manifest
