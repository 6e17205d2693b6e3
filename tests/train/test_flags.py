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
    assert o["--grad-checkpointing"] and o["--ddp-static-graph"] and o["--save-most-recent"]
    assert o["--accum-freq"] == "1"
    urls = list(braceexpand.braceexpand(o["--train-data"]))
    assert len(urls) == 3840 and urls[0].endswith("/00000000.tar") and urls[-1].endswith("/00003839.tar")


def test_single_process_and_bad_world_size(tmp_path):
    o = _opts(openclip_argv(load_scale("xlarge"), tmp_path, 1, tmp_path, 7, 1, "cuda", "amp_bf16", 4))
    assert o["--batch-size"] == "90112" and o["--beta2"] == "0.95" and o["--seed"] == "7"
    assert o["--local-loss"] and o["--train-data"] == str(tmp_path / "00000000.tar")
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


# ----- equal to DataComp's train.py, scale by scale (issue 10, item 7) -----------------------
# DataComp's train.py (mlfoundations/datacomp), read for these facts: SCALE_CONFIGS gives
# batch_size, learning_rate, train_num_samples, warmup, model and beta2 (None except xlarge
# 0.95); per-GPU batch = batch_size // (world_size * accum_freq); it always passes
# --ddp-static-graph --local-loss --gather-with-grad --grad-checkpointing --save-most-recent
# --dataset-resampled --accum-freq, --epochs = num_checkpoints (5), --train-num-samples =
# train_num_samples // 5, --resume latest, --seed, --precision (default amp), --beta2 only
# when set.
DATACOMP_SCALES = {
    "small": (4096, 5e-4, 12_800_000, 500, "ViT-B-32", None),
    "medium": (4096, 5e-4, 128_000_000, 500, "ViT-B-32", None),
    "large": (8192, 5e-4, 1_280_000_000, 500, "ViT-B-16", None),
    "xlarge": (90112, 1e-3, 12_800_000_000, 10000, "ViT-L-14", 0.95),
}
# what selbench sets differently on purpose (see harness/train/flags.py's docstring), or
# names a path of this run
NOT_COMPARED = {"train_data", "logs", "name", "save_frequency", "log_every_n_steps", "workers",
                "device", "report_to", "wandb_project_name"}


def datacomp_argv(scale, world_size, accum_freq, precision, seed):
    batch, lr, samples, warmup, model, beta2 = DATACOMP_SCALES[scale]
    argv = ["--save-frequency", "0", "--ddp-static-graph", "--local-loss", "--gather-with-grad",
            "--grad-checkpointing", "--train-data", "x.tar", "--train-num-samples", str(samples // 5),
            "--warmup", str(warmup), "--dataset-type", "webdataset", "--precision", precision,
            "--workers", "4", "--model", model, "--batch-size", str(batch // (world_size * accum_freq)),
            "--epochs", "5", "--lr", str(lr), "--logs", "logs", "--name", "exp", "--seed", str(seed),
            "--accum-freq", str(accum_freq), "--log-every-n-steps", "100", "--save-most-recent",
            "--resume", "latest", "--dataset-resampled"]
    return argv + (["--beta2", str(beta2)] if beta2 is not None else [])


@pytest.mark.parametrize("scale", sorted(DATACOMP_SCALES))
@pytest.mark.parametrize("world_size", [1, 8, 32])
def test_open_clip_arguments_equal_datacomp_train_py(scale, world_size, tmp_path):
    from open_clip_train.params import parse_args

    spec = load_scale(scale)
    ours = vars(parse_args(openclip_argv(spec, tmp_path, 10, tmp_path / "out", 3, world_size, "cuda",
                                         spec["precision"], 4)))
    theirs = vars(parse_args(datacomp_argv(scale, world_size, 1, spec["precision"], 3)))
    differ = {k: (ours[k], theirs.get(k)) for k in ours
              if k not in NOT_COMPARED and ours[k] != theirs.get(k)}
    assert differ == {}
    assert ours["grad_checkpointing"] and ours["ddp_static_graph"] and ours["save_most_recent"]


def test_accum_freq_is_a_scale_key(tmp_path):
    from open_clip_train.params import parse_args

    from harness.train.scales import apply_overrides

    spec = apply_overrides(load_scale("medium"), {"accum_freq": 4})
    ours = vars(parse_args(openclip_argv(spec, tmp_path, 10, tmp_path, 0, 8, "cuda", "amp", 4)))
    theirs = vars(parse_args(datacomp_argv("medium", 8, 4, "amp", 0)))
    assert ours["accum_freq"] == theirs["accum_freq"] == 4
    assert ours["batch_size"] == theirs["batch_size"] == 4096 // 32
    with pytest.raises(SelbenchError, match="accum_freq 3"):
        openclip_argv(apply_overrides(load_scale("medium"), {"accum_freq": 3}), tmp_path, 1,
                      tmp_path, 0, 8, "cuda", "amp", 4)


def test_tiny_differs_only_in_grad_checkpointing(tmp_path):
    o = _opts(openclip_argv(load_scale("tiny"), tmp_path, 1, tmp_path, 0, 1, "cpu", "fp32", 1))
    assert "--grad-checkpointing" not in o
    assert o["--ddp-static-graph"] and o["--save-most-recent"] and o["--accum-freq"] == "1"


def test_training_child_runs_offline(tmp_path, monkeypatch):
    """The trainer's child process gets HF_HUB_OFFLINE=1, whatever this process's environment."""
    import sys

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    log = tmp_path / "console.log"
    cmd = [sys.executable, "-c", "import os; print('HF_HUB_OFFLINE=' + os.environ['HF_HUB_OFFLINE'])"]
    launch.run(cmd, log, tmp_path / "out.log", total_steps=1, steps_per_epoch=1, progress=False)
    assert log.read_text().strip() == "HF_HUB_OFFLINE=1"
