"""Budgets: parsing from configuration and checking against a pool's size."""
import pytest

from harness.errors import SelbenchError
from harness.select.base import Budget
from harness.select.budget import budget_from_label, budget_from_mapping, budget_label, check_budget


def test_from_mapping_parses_each_mode():
    assert budget_from_mapping({"fraction": "0.3"}) == Budget(fraction=0.3)
    assert budget_from_mapping({"count": 7, "fraction": None}) == Budget(count=7)
    assert budget_from_mapping({"threshold": 0.25}) == Budget(threshold=0.25)
    assert budget_from_mapping({"natural": True}) == Budget(natural=True)


@pytest.mark.parametrize("cfg, word", [
    ({"count": 2.5}, "whole number"), ({"count": "x"}, "whole number"),
    ({"fraction": "abc"}, "number"), ({"threshold": float("nan")}, "finite"),
    ({"size": 3}, "unknown budget key"), ({"natural": "maybe"}, "true or false"),
])
def test_from_mapping_rejects(cfg, word):
    with pytest.raises(SelbenchError, match=word):
        budget_from_mapping(cfg)


@pytest.mark.parametrize("budget, rows, target", [
    (Budget(fraction=0.3), 200, 60), (Budget(fraction=1.0), 7, 7), (Budget(count=1), 5, 1),
    (Budget(count=5), 5, 5), (Budget(threshold=-3.0), 5, None), (Budget(natural=True), 5, None),
])
def test_check_accepts(budget, rows, target):
    assert check_budget(budget, rows) == target


@pytest.mark.parametrize("budget, rows, word", [
    (Budget(), 10, "exactly one budget mode"),
    (Budget(fraction=0.3, count=3), 10, "exactly one budget mode"),
    (Budget(count=3, natural=True), 10, "exactly one budget mode"),
    (Budget(count=11), 10, "outside 1..10"), (Budget(count=0), 10, "outside 1..10"),
    (Budget(count=-2), 10, "outside 1..10"), (Budget(fraction=0.0), 10, r"outside \(0, 1\]"),
    (Budget(fraction=1.5), 10, r"outside \(0, 1\]"), (Budget(fraction=0.01), 10, "keeps no row"),
    (Budget(count=1), 0, "no rows"),
])
def test_check_rejects_with_one_line(budget, rows, word):
    with pytest.raises(SelbenchError, match=word) as info:
        check_budget(budget, rows)
    assert "\n" not in str(info.value)


def test_budget_lives_in_the_budget_module():
    from harness.select import base, budget

    assert base.Budget is budget.Budget


@pytest.mark.parametrize("label, expected", [
    ("natural", Budget(natural=True)), ("none", Budget(natural=True)),
    ("0.3", Budget(fraction=0.3)), (0.3, Budget(fraction=0.3)), ("1", Budget(fraction=1.0)),
    ("500", Budget(count=500)), (500, Budget(count=500)), ("5e3", Budget(count=5000)),
])
def test_from_label_parses_sweep_labels(label, expected):
    assert budget_from_label(label) == expected


@pytest.mark.parametrize("label, select_cfg", [
    ("1.5", {"count": 1.5}), (2.5, {"count": 2.5}), ("abc", {"fraction": "abc"}),
])
def test_from_label_refuses_as_select_does(label, select_cfg):
    with pytest.raises(SelbenchError) as from_select:
        budget_from_mapping(select_cfg)
    with pytest.raises(SelbenchError) as from_label:
        budget_from_label(label)
    assert str(from_label.value) == str(from_select.value)


@pytest.mark.parametrize("label", ["0", "-2", "0.0"])
def test_from_label_refuses_empty_fractions(label):
    with pytest.raises(SelbenchError, match=r"outside \(0, 1\]"):
        budget_from_label(label)


def test_label_has_one_name_for_the_own_size():
    assert budget_label("none") == budget_label("natural") == "natural"
    assert budget_label(0.3) == "0.3"
