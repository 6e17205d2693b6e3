"""Training end to end with the minimal model: smoke, loss, determinism, skip, resume."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from harness.io import sha256_file
from harness.train.checkpoints import checkpoint_dir, epoch_checkpoints, is_complete
from harness.train.trainer import train

from .conftest import pool_uids, subset_file

# selbench-minimal (1 layer, width 64); 5 epochs x 8 steps x batch 16 = 640 samples seen
MINIMAL = dict(model="selbench-minimal", samples_seen=640, global_batch_size=16, warmup=4,
               lr=5e-3, workers=1, threads=1, progress=False)
FIELDS = {"scale", "model", "samples_seen", "seed", "subset", "subset_sha256", "selection",
          "pool_fingerprint", "wall_time_s", "samples_per_s", "final_loss", "checkpoint",
          "checkpoint_sha256", "versions"}


@pytest.fixture(scope="module")
def subset(tar_pool, tmp_path_factory):
    """Every sample of the pool, with a manifest naming the pool's fingerprint."""
    path = subset_file(tmp_path_factory.mktemp("sub") / "all.npy", pool_uids(tar_pool))
    fp = json.loads((tar_pool / "pool.json").read_text())["fingerprint"]
    path.with_suffix(".json").write_text(json.dumps(
        {"strategy": "no_filter", "params": {}, "budget": {"natural": True}, "seed": 0,
         "pool_fingerprint": fp, "subset_sha256": sha256_file(path)}))
    return path


@pytest.fixture(scope="module")
def first_run(tar_pool, subset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "a"
    return out, train(tar_pool, subset, "tiny", out, seed=0, **MINIMAL)


def _weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_smoke_outputs(first_run, subset):
    out, result = first_run
    assert FIELDS <= set(result) and json.loads((out / "train.json").read_text()) == result
    assert result["model"] == "selbench-minimal" and result["samples_seen"] == 640
    assert result["selection"]["strategy"] == "no_filter" and result["final_loss"] > 0
    assert result["reshard"]["written"] == 120 and result["samples_per_s"] > 0
    assert result["reshard"]["failed_tar_count"] == 0 and result["reshard"]["failed_tars"] == []
    assert result["reshard"]["damaged_tar_members"] == 0
    assert result["checkpoint_sha256"] and is_complete(out / "checkpoint.pt")
    runtime = json.loads((out / "open_clip" / "runtime.json").read_text())
    assert runtime == {"device": "cpu", "threads": 1, "fused_adamw": True, "schema": 1}
    assert [s["threads"] for s in result["segments"]] == [1]
    assert sorted(p.name for p in checkpoint_dir(out).glob("*.pt")) == [
        *(f"epoch_{i}.pt" for i in range(1, 6)), "epoch_latest.pt"]  # --save-most-recent, as DataComp
    import open_clip
    from harness.models import register_model_configs
    register_model_configs()
    model = open_clip.create_model("selbench-minimal", pretrained=str(out / "checkpoint.pt"))
    assert torch.equal(model.state_dict()["logit_scale"], _weights(out / "checkpoint.pt")["logit_scale"])


EMBED = r"""
import json, sys
import numpy as np, open_clip, torch
export, out = sys.argv[1], sys.argv[2]
model, _, preprocess = open_clip.create_model_and_transforms("local-dir:" + export)
tokenizer = open_clip.get_tokenizer("local-dir:" + export)
model.eval()
size = model.visual.image_size if isinstance(model.visual.image_size, int) else model.visual.image_size[0]
images = torch.linspace(-1, 1, 2 * 3 * size * size).reshape(2, 3, size, size)
with torch.no_grad():
    img = model.encode_image(images).numpy()
    txt = model.encode_text(tokenizer(["a red square", "a blue square"])).numpy()
np.savez(out, img=img, txt=txt)
print(json.dumps({"selbench_imported": any(m.split(".")[0] in ("harness", "baselines") for m in sys.modules)}))
"""


def test_export_loads_in_a_plain_python_process(first_run, tmp_path):
    import numpy as np
    import open_clip

    from harness.models import register_model_configs

    out, result = first_run
    assert result["export"] == "export"
    assert sorted(p.name for p in (out / "export").iterdir()) == ["open_clip_config.json",
                                                                 "open_clip_model.safetensors"]
    proc = subprocess.run([sys.executable, "-c", EMBED, str(out / "export"), str(tmp_path / "e.npz")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"selbench_imported": False}
    got = np.load(tmp_path / "e.npz", allow_pickle=False)
    register_model_configs()
    model = open_clip.create_model("selbench-minimal", pretrained=str(out / "checkpoint.pt")).eval()
    tokenizer = open_clip.get_tokenizer("selbench-minimal")
    size = model.visual.image_size if isinstance(model.visual.image_size, int) else model.visual.image_size[0]
    images = torch.linspace(-1, 1, 2 * 3 * size * size).reshape(2, 3, size, size)
    with torch.no_grad():
        assert np.array_equal(model.encode_image(images).numpy(), got["img"])
        assert np.array_equal(model.encode_text(tokenizer(["a red square", "a blue square"])).numpy(),
                              got["txt"])


def test_loss_falls_on_clean_data(first_run):
    curve = [row[2] for row in first_run[1]["loss_curve"]]
    assert len(curve) >= 10
    start, end = sum(curve[:3]) / 3, sum(curve[-3:]) / 3
    assert end < start - 0.3, (start, end)  # log(16) = 2.77 at chance


def test_finished_run_is_skipped(first_run, tar_pool, subset):
    out, result = first_run
    segments = (out / "segments.jsonl").read_text()
    t0 = time.perf_counter()
    assert train(tar_pool, subset, "tiny", out, seed=0, **MINIMAL) == result
    assert time.perf_counter() - t0 < 5 and (out / "segments.jsonl").read_text() == segments


def test_same_seed_same_weights(first_run, tar_pool, subset, tmp_path):
    again = train(tar_pool, subset, "tiny", tmp_path / "b", seed=0, **MINIMAL)
    a, b = _weights(first_run[0] / "checkpoint.pt"), _weights(tmp_path / "b" / "checkpoint.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert again["final_loss"] == first_run[1]["final_loss"]


def _cli_args(pool, subset, out) -> list[str]:
    """``selbench train`` with the MINIMAL settings (the same run as ``first_run``)."""
    return [sys.executable, "-m", "harness.cli", "train", f"pool={pool}", f"subset={subset}",
            f"out={out}", "progress=false", "threads=1", "workers=1", "scale.model=selbench-minimal",
            "scale.samples_seen=640", "scale.global_batch_size=16", "scale.warmup=4", "scale.lr=5e-3"]


def _kill_after_epoch(args, out: Path, epoch: int) -> None:
    """Start ``args`` in its own session; SIGKILL the whole group once ``epoch_<epoch>.pt`` is whole."""
    child = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    target = checkpoint_dir(out) / f"epoch_{epoch}.pt"
    deadline = time.time() + 180
    while not (target.exists() and is_complete(target)) and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)  # the CLI and its training child, as a shell's kill would
    child.wait()


def test_killed_run_resumes_to_identical_checkpoints(first_run, tar_pool, subset, tmp_path):
    """SIGKILL at a random epoch, rerun: every checkpoint's bytes equal the uninterrupted run's."""
    import random

    epoch = random.randrange(1, 5)
    out = tmp_path / "r"
    args = _cli_args(tar_pool, subset, out)
    _kill_after_epoch(args, out, epoch)
    time.sleep(0.5)
    done = sorted(epoch_checkpoints(out))
    assert epoch in done and len(done) < 5, (epoch, done)
    assert not (out / "train.json").exists() and not (out / "checkpoint.pt").exists()
    assert subprocess.run(args, capture_output=True).returncode == 0
    segments = [json.loads(x) for x in (out / "segments.jsonl").read_text().splitlines()]
    assert len(segments) == 1 and segments[0]["start_epoch"] == max(done) and segments[0]["end_epoch"] == 5
    assert "=> resuming checkpoint" in (out / "open_clip" / "out.log").read_text()
    result = json.loads((out / "train.json").read_text())
    assert result["samples_seen"] == 640
    reference = first_run[0]
    for n in range(1, 6):  # torch.save's zip is byte-stable: compare the files themselves
        a = (checkpoint_dir(reference) / f"epoch_{n}.pt").read_bytes()
        b = (checkpoint_dir(out) / f"epoch_{n}.pt").read_bytes()
        assert a == b, f"epoch_{n}.pt differs after a kill at epoch {epoch}"
    assert (out / "checkpoint.pt").read_bytes() == (reference / "checkpoint.pt").read_bytes()
    assert result["checkpoint_sha256"] == first_run[1]["checkpoint_sha256"]
    assert result["final_loss"] == first_run[1]["final_loss"], f"killed at epoch {epoch}"


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    kids = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids += [int(x) for x in (task / "children").read_text().split()]
    except OSError:  # it exited meanwhile
        pass
    return kids


def _descendants(pid: int) -> list[int]:
    """Children of ``pid``, their children, and so on."""
    found, todo = [], [pid]
    while todo:
        for kid in _children(todo.pop()):
            found.append(kid)
            todo.append(kid)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_trainer_dies_with_selbench(first_run, tar_pool, subset, tmp_path):
    """SIGKILL to ``selbench`` alone: its training child stops too; the rerun resumes to equal bytes."""
    out = tmp_path / "orphan"
    args = _cli_args(tar_pool, subset, out)
    cli = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    first = checkpoint_dir(out) / "epoch_1.pt"
    deadline = time.time() + 180
    while not (first.exists() and is_complete(first)) and cli.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    trainers = _descendants(cli.pid)  # the trainer and its dataloader worker
    assert len(trainers) >= 2, "no training child with a dataloader worker"
    os.kill(cli.pid, signal.SIGKILL)  # the parent only: the kernel's parent-death signal must act
    cli.wait()
    deadline = time.time() + 20  # the worker notices its trainer's death within 5 s (torch)
    while any(_alive(p) for p in trainers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in trainers), "the trainer or its worker outlived selbench"
    assert len(epoch_checkpoints(out)) < 5
    assert subprocess.run(args, capture_output=True).returncode == 0
    for n in range(1, 6):
        assert ((checkpoint_dir(out) / f"epoch_{n}.pt").read_bytes()
                == (checkpoint_dir(first_run[0]) / f"epoch_{n}.pt").read_bytes())
