"""Named variants: a strategy plus parameters defined in configuration, with include."""
import pytest

from harness.config import compose
from harness.errors import SelbenchError
from harness.run import plan
from harness.select.variants import resolve_variant, variant_names


def test_shipped_normsim_variants():
    assert {"normsim_p2", "normsim_pinf"} <= set(variant_names())
    p2, pinf = resolve_variant("normsim_p2"), resolve_variant("normsim_pinf")
    assert (p2.strategy, p2.params) == ("normsim", {"p": "2"})  # include: normsim_pinf, p overridden
    assert (pinf.strategy, pinf.params) == ("normsim", {"p": "inf"})
    assert resolve_variant("clip_score") is None


def test_inline_variants_include_and_cycles():
    inline = {"a": {"strategy": "metaclip", "params": {"t": 20, "embedding": "b32"}},
              "b": {"include": "a", "params": {"t": 40}},
              "loop1": {"include": "loop2"}, "loop2": {"include": "loop1"},
              "lost": {"include": "nowhere"}, "odd": {"strategy": "x", "weight": 1}}
    b = resolve_variant("b", inline)
    assert (b.strategy, b.params) == ("metaclip", {"t": 40, "embedding": "b32"})
    with pytest.raises(SelbenchError, match="include cycle loop1 -> loop2 -> loop1"):
        resolve_variant("loop1", inline)
    with pytest.raises(SelbenchError, match="includes unknown variant 'nowhere'"):
        resolve_variant("lost", inline)
    with pytest.raises(SelbenchError, match="unknown key"):
        resolve_variant("odd", inline)


def test_a_sweep_holds_two_variants_of_one_method(tmp_path):
    cfg = compose("run", ["strategies=[normsim_p2,normsim_pinf,clip_score]", "budgets=[0.3]",
                          "+strategy_params.normsim_p2.target=/x.npy"])
    cells = plan(cfg)
    assert [(c.strategy, c.variant, c.name) for c in cells] == [
        ("normsim", "normsim_p2", "normsim_p2"), ("normsim", "normsim_pinf", "normsim_pinf"),
        ("clip_score", None, "clip_score")]
    assert cells[0].params == '{"p": "2", "target": "/x.npy"}' and cells[1].params == '{"p": "inf"}'
    dirs = {c.directory(tmp_path).parent.parent.name for c in cells}
    assert len(dirs) == 3 and any(d.startswith("normsim_p2-") for d in dirs)


def test_unknown_sweep_names_fail_before_any_work():
    cfg = compose("run", ["strategies=[normsim_p3]"])
    with pytest.raises(SelbenchError, match="neither a strategy nor a variant; did you mean normsim"):
        plan(cfg)
