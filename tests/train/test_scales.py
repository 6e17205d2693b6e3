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
    assert samples_seen_exact(s, s["workers"]) == s["samples_seen"] == 76_800
    assert 5 * steps_per_epoch(s, s["workers"]) == 1200


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
