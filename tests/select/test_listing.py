"""`selbench ls strategies`: every strategy with shape, parameters with defaults, description."""
import json

from harness.cli import main
from harness.select.listing import strategy_rows

MINE = {"no_filter": "set", "random": "set", "clip_score": "scorer", "intersect": "set",
        "union": "set", "then": "set"}


def test_rows_describe_each_strategy():
    rows = {r["name"]: r for r in strategy_rows()}
    for name, shape in MINE.items():
        assert rows[name]["shape"] == shape and rows[name]["doc"]
    assert rows["clip_score"]["params"] == {"embedding": None, "source": "auto", "datacomp_fraction": None}
    assert rows["then"]["params"] == {"a": {}, "b": {}, "a_fraction": 0.3}
    assert rows["random"]["params"] == {}
    assert all(set(r) == {"name", "version", "shape", "distributed", "params", "origin", "doc"}
               for r in rows.values())
    assert rows["clip_score"]["origin"] == "selbench (baselines.clip_score:ClipScore)"
    assert rows["then"]["origin"] == "selbench (harness.select.combinators:Then)"
    assert rows["clip_score"]["version"] == "1"
    assert {n: rows[n]["distributed"] for n in ("clip_score", "metaclip", "clipcov", "random")} == \
        {"clip_score": "yes", "metaclip": "yes", "clipcov": "no", "random": "no"}


def test_ls_strategies_json_parses(capsys):
    assert main(["ls", "strategies", "format=json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert MINE.keys() <= {r["name"] for r in rows}
    assert main(["ls", "strategies"]) == 0
    text = capsys.readouterr().out
    assert "clip_score" in text and "embedding=None" in text
