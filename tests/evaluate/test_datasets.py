"""harness.evaluate.datasets.read_class_frequency: the optional per-task file of class groups."""
import json

import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.evaluate.datasets import read_class_frequency

CLASSES = ["cat", "dog", "owl"]


def test_absent_file_is_none(tmp_path):
    assert read_class_frequency(tmp_path, CLASSES) is None


def test_groups_in_the_tasks_class_order(tmp_path):
    (tmp_path / "class_frequency.json").write_text(
        json.dumps({"classes": CLASSES, "group": ["head", "tail", "mid"]}))
    groups = read_class_frequency(tmp_path, CLASSES)
    assert groups.tolist() == ["head", "tail", "mid"]
    assert groups.dtype == np.dtype(object)


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{", "not a JSON file"),
    (b"{oops", "not a JSON file"),
    (b"", "not a JSON file"),
    (b"[1, 2]", "expected"),
    (b'"head"', "expected"),
    (json.dumps({"classes": CLASSES}).encode(), "expected"),  # no groups
    (json.dumps({"classes": CLASSES[::-1], "group": ["a", "b", "c"]}).encode(), "expected"),  # order
    (json.dumps({"classes": CLASSES[:2], "group": ["a", "b"]}).encode(), "expected"),  # other classes
    (json.dumps({"classes": CLASSES, "group": ["a", "", "c"]}).encode(), "expected"),  # empty name
    (json.dumps({"classes": CLASSES, "group": ["a", 1, "c"]}).encode(), "expected"),  # not a name
    (json.dumps({"classes": CLASSES, "group": "abc"}).encode(), "expected"),
    (json.dumps({"classes": CLASSES, "group": ["a", "b"]}).encode(), "2 groups for 3 classes"),
    (json.dumps({"classes": CLASSES, "group": ["a", "b", "c", "d"]}).encode(), "4 groups for 3 classes"),
])
def test_malformed_file_is_one_line_error(tmp_path, content, message):
    (tmp_path / "class_frequency.json").write_bytes(content)
    with pytest.raises(SelbenchError, match=message) as err:
        read_class_frequency(tmp_path, CLASSES)
    assert "\n" not in str(err.value) and "class_frequency.json" in str(err.value)
