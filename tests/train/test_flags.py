"""open_clip_train arguments for a scale, and the launch commands."""
import json

import braceexpand
import pytest

from harness.errors import SelbenchError
from harness.train import launch
from harness.train.flags import openclip_argv, shard_pattern
from harness.train.logs import parse_line
from harness.train.scales import load_scale


def _opts(argv):
    out, i = {}, 0
    while i < len(argv):
        if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            out[argv[i]] = argv[i + 1]
            i += 2
        else:
            out[argv[i]] = True
            i += 1
    return out


def test_datacomp_medium_on_8_gpus(tmp_path):
    argv = openclip_argv(load_scale("medium"), tmp_path, 3840, tmp_path / "out", 0, 8, "cuda", "amp", 4)
    o = _opts(argv)
    assert o["--train-num-samples"] == str(128_000_000 // 5) and o["--epochs"] == "5"
    assert o["--batch-size"] == "512" and o["--lr"] == "0.0005" and o["--warmup"] == "500"
    assert o["--beta2"] == "0.98" and o["--wd"] == "0.2" and o["--precision"] == "amp"
    assert o["--lr-scheduler"] == "cosine" and o["--resume"] == "latest" and o["--save-frequency"] == "1"
    assert o["--dataset-resampled"] and o["--local-loss"] and o["--gather-with-grad"]
    urls = list(braceexpand.braceexpand(o["--train-data"]))
    assert len(urls) == 3840 and urls[0].endswith("/00000000.tar") and urls[-1].endswith("/00003839.tar")


def test_single_process_and_bad_world_size(tmp_path):
    o = _opts(openclip_argv(load_scale("xlarge"), tmp_path, 1, tmp_path, 7, 1, "cuda", "amp_bf16", 4))
    assert o["--batch-size"] == "90112" and o["--beta2"] == "0.95" and o["--seed"] == "7"
    assert "--local-loss" not in o and o["--train-data"] == str(tmp_path / "00000000.tar")
    with pytest.raises(SelbenchError, match="not divisible by 3"):
        openclip_argv(load_scale("small"), tmp_path, 2, tmp_path, 0, 3, "cuda", "amp", 4)
    with pytest.raises(SelbenchError, match="no shards"):
        shard_pattern(tmp_path, 0)


def test_launch_commands(tmp_path, monkeypatch):
    spec = tmp_path / "args.json"
    cmd = launch.command("torchrun", 8, None, ["--logs", "x"], spec)
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "8"]
    assert cmd[-2:] == ["--spec", str(spec.resolve())]
    assert json.loads(spec.read_text()) == {"threads": None, "argv": ["--logs", "x"], "gpu_precision": "amp"}
    assert launch.world_size("torchrun", 8, "cuda") == 8 and launch.world_size("local", 8, "cpu") == 1
    with pytest.raises(SelbenchError, match="needs GPUs"):
        launch.world_size("torchrun", 2, "cpu")
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    with pytest.raises(SelbenchError, match="Slurm allocation"):
        launch.world_size("srun", 1, "cuda")
    monkeypatch.setenv("SLURM_NTASKS", "32")
    assert launch.world_size("srun", 1, "cuda") == 32


def test_parse_open_clip_log_line():
    line = ("2026-01-01,00:00:00 | INFO | Train Epoch: 3 [ 2560/10240 (25%)] Data (t): 0.01 "
            "Batch (t): 0.3, 800.1/s, 800.1/s/gpu LR: 0.000500 Logit Scale: 14.286 "
            "Contrastive_loss: 4.1234 (4.3000) Loss: 4.1234 (4.3000)")
    assert parse_line(line) == {"epoch": 3, "samples": 2560, "samples_per_epoch": 10240,
                                "lr": 0.0005, "loss": 4.1234, "loss_avg": 4.3}
    assert parse_line("2026 | INFO | Start epoch 3") is None
