"""Scales as data: DataComp's values (reference/datacomp.md) and the tiny CPU scale."""
import json

import pytest

from harness.cli import main
from harness.errors import SelbenchError
from harness.train.scales import (apply_overrides, load_scale, samples_seen_exact, scale_names,
                                  scale_rows, steps_per_epoch)

# scale: (model, samples seen = pool size, global batch, lr, warmup, beta2, steps, MACs)
DATACOMP = {
    "small": ("ViT-B-32", 12_800_000, 4096, 5e-4, 500, 0.98, 3125, 9.5e16),
    "medium": ("ViT-B-32", 128_000_000, 4096, 5e-4, 500, 0.98, 31250, 9.5e17),
    "large": ("ViT-B-16", 1_280_000_000, 8192, 5e-4, 500, 0.98, 156250, 2.6e19),
    "xlarge": ("ViT-L-14", 12_800_000_000, 90112, 1e-3, 10000, 0.95, 142050, 1.1e21),
}


@pytest.mark.parametrize("name", sorted(DATACOMP))
def test_datacomp_scales_match_reference(name):
    model, seen, batch, lr, warmup, beta2, steps, macs = DATACOMP[name]
    s = load_scale(name)
    assert (s["model"], s["samples_seen"], s["pool_size"], s["global_batch_size"]) == (model, seen, seen, batch)
    assert (s["lr"], s["warmup"], s["beta2"], s["wd"], s["epochs"]) == (lr, warmup, beta2, 0.2, 5)
    assert s["resampled"] is True and s["lr_scheduler"] == "cosine" and s["train_macs"] == macs
    assert s["precision"] == ("amp_bf16" if name == "xlarge" else "amp")
    # xlarge: 12.8B / 5 / 90112 = 28409.09 -> 28410 whole batches per epoch (paper: ~142,045 steps)
    assert 5 * steps_per_epoch(s) == steps


def test_tiny_scale_is_whole_batches():
    s = load_scale("tiny")
    assert s["model"] == "selbench-tiny" and s["precision"] == "fp32"
    assert samples_seen_exact(s, s["workers"]) == s["samples_seen"] == 96_000
    assert 5 * steps_per_epoch(s, s["workers"]) == 1500


def test_unknown_scale_suggests():
    with pytest.raises(SelbenchError, match="did you mean small"):
        load_scale("smal")
    with pytest.raises(SelbenchError, match="unknown scale override"):
        apply_overrides(load_scale("tiny"), {"learning_rate": 1})


def test_ls_scales(capsys):
    assert main(["ls", "scales", "format=json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["scale"] for r in rows] == scale_names() == ["tiny", "small", "medium", "large", "xlarge"]
    assert rows == json.loads(json.dumps(scale_rows()))


def test_every_scale_file_has_the_schema():
    from harness.train.scales import check_scale

    for name in scale_names():
        assert check_scale(load_scale(name))["name"] == name


@pytest.mark.parametrize("config", ["run", "evaluate", "train"])
def test_another_yaml_is_not_a_scale(config):
    """What ``scale=../run`` would compose (another YAML in the scale's place) fails the schema."""
    from omegaconf import OmegaConf

    from harness.config import conf_dir
    from harness.train.scales import check_scale

    other = OmegaConf.to_container(OmegaConf.load(conf_dir() / f"{config}.yaml"))
    with pytest.raises(SelbenchError, match="is not a scale of harness/conf/scale/"):
        check_scale(other)
    with pytest.raises(SelbenchError, match="not a scale"):
        check_scale({**other, "name": "tiny"})


@pytest.mark.parametrize("change, fragment", [
    ({"epochs": True}, "epochs=True must be an integer"),
    ({"lr": "fast"}, "lr='fast' must be a number"),
    ({"resampled": 3}, "resampled=3 must be true or false"),
    ({"model": 7}, "model=7 must be a string"),
    ({"color": "red"}, "unknown color"),
])
def test_scale_schema_types(change, fragment):
    from harness.train.scales import check_scale

    with pytest.raises(SelbenchError, match=fragment):
        check_scale({**load_scale("tiny"), **change})
    scale = load_scale("tiny")
    del scale["lr"]
    with pytest.raises(SelbenchError, match="missing lr"):
        check_scale(scale)
