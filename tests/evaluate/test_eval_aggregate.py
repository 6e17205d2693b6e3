"""DataComp aggregation against hand-computed values on a 38-line results fixture."""
import pytest

from harness.errors import SelbenchError
from harness.evaluate.aggregate import aggregate
from harness.evaluate.tasks import load_suite


def _fixture():
    """Task #i (1-based, reference table order) scores i/100; unscored tasks have None."""
    scored = [t for t in load_suite("datacomp38") if t.scored]
    assert len(scored) == 38
    return {t.key: (i + 1) / 100 for i, t in enumerate(scored)}


def test_aggregate_datacomp38_by_hand():
    agg = aggregate(_fixture(), "datacomp38")
    assert agg["ImageNet"] == pytest.approx(0.12)                       # imagenet1k is task 12
    assert agg["ImageNet dist. shifts"] == pytest.approx((13 + 14 + 15 + 16 + 17 + 20) / 600)
    vtab = (1 + 3 + 4 + 5 + 7 + 8 + 18 + 21 + 22 + 24 + 26 + 29 + 30) / 1300   # = 198/1300
    assert agg["VTAB"] == pytest.approx(vtab) and vtab == pytest.approx(0.152308, abs=1e-6)
    assert agg["Retrieval"] == pytest.approx((31 + 32 + 33) / 300)
    assert agg["Average"] == pytest.approx(741 / 3800)                  # sum 1..38 / 38 = 0.195
    assert agg["complete"] is True and agg["missing"] == [] and agg["num_tasks"] == 38


def test_unscored_tasks_never_count():
    values = _fixture() | {"fairness/fairface": None, "fairness/utkface": 0.9}
    assert aggregate(values, "datacomp38")["Average"] == pytest.approx(0.195)


def test_missing_task_is_flagged_not_averaged():
    values = _fixture()
    del values["vtab/svhn"]
    values["misc/winogavil"] = None
    agg = aggregate(values, "datacomp38")
    assert agg["complete"] is False
    assert agg["missing"] == ["vtab/svhn", "misc/winogavil"]
    assert agg["VTAB"] is None and agg["Retrieval"] is None and agg["Average"] is None
    assert agg["ImageNet"] == pytest.approx(0.12)


def test_foreign_task_is_an_error():
    with pytest.raises(SelbenchError, match="outside suite 'tiny'.*imagenet1k"):
        aggregate({"imagenet1k": 0.5, "objects": 0.1}, "tiny")


def test_aggregate_tiny_by_hand():
    keys = [t.key for t in load_suite("tiny")]
    values = {k: (i + 1) / 10 for i, k in enumerate(keys)}   # objects=.1 ... retrieval=1.1
    agg = aggregate(values, "tiny")
    assert agg["ImageNet"] == pytest.approx(0.1)
    assert agg["ImageNet dist. shifts"] == pytest.approx((0.2 + 0.3 + 0.4) / 3)
    assert agg["VTAB"] == pytest.approx((0.5 + 0.6 + 0.7 + 0.8 + 0.9) / 5)
    assert agg["Retrieval"] == pytest.approx(1.1)
    assert agg["Average"] == pytest.approx(sum(range(1, 12)) / 110)
