import pytest

from harness.errors import SelbenchError
from harness.synth.presets import DEFECT_KINDS, check_preset, load_preset, preset_names


def test_both_presets_load_with_all_defect_kinds():
    assert {"tiny", "test"} <= set(preset_names())
    for name in ("tiny", "test"):
        cfg = load_preset(name)
        assert set(cfg["defects"]) == set(DEFECT_KINDS)
        assert 0.4 <= sum(cfg["defects"].values()) <= 0.6
        assert max(cfg["defects"], key=cfg["defects"].get) == "mismatched"
    assert load_preset("tiny")["pool_size"] == 50_000
    assert load_preset("test")["pool_size"] == 2_000


def test_unknown_preset_names_the_choices():
    with pytest.raises(SelbenchError, match="unknown pool preset 'huge'.*test, tiny"):
        load_preset("huge")


@pytest.mark.parametrize("change, message", [
    ({"defects": {"mismatched": 0.7, "generic": 0.4}}, "sum to less than 1"),
    ({"defects": {"typo": 0.1}}, "unknown defect kind"),
    ({"domains": {"object": 1.0}}, "domains"),
    ({"pool_size": 0}, "pool_size"),
    ({"shifts": {"objects_sketch": 6}}, "shifts.objects_sketch: severity level must be an integer 1-5, got 6"),
    ({"shifts": {"objects_corrupt": "1"}}, "severity level must be an integer"),
    ({"shifts": {"objects_blur": 1}}, "unknown task.*objects_blur"),
])
def test_bad_presets_are_rejected(change, message):
    cfg = {**load_preset("test"), **change}
    with pytest.raises(SelbenchError, match=message):
        check_preset(cfg, "conf/synth/x.yaml")
