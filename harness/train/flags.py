"""The open_clip_train command line for one run of a scale (DataComp's fixed flags)."""
from __future__ import annotations

import math
from pathlib import Path

from harness.errors import SelbenchError
from harness.train.scales import steps_per_epoch

LOG_NAME = "open_clip"  # --name: open_clip writes <out>/open_clip/{out.log,checkpoints/}


def shard_pattern(shard_dir: Path, num_shards: int) -> str:
    """Brace notation for ``{00000000..N-1}.tar`` in ``shard_dir`` (keeps argv short)."""
    if num_shards < 1:
        raise SelbenchError(f"{shard_dir}: no shards to train on")
    if num_shards == 1:
        return str(shard_dir / "00000000.tar")
    return f"{shard_dir}/{{00000000..{num_shards - 1:08d}}}.tar"


def per_gpu_batch(scale: dict, world_size: int) -> int:
    """The scale's global batch divided over ``world_size`` processes (must divide exactly)."""
    global_batch = int(scale["global_batch_size"])
    if global_batch % world_size:
        raise SelbenchError(f"scale {scale['name']}: global batch {global_batch} is not divisible "
                            f"by {world_size} processes")
    return global_batch // world_size


def openclip_argv(scale: dict, shard_dir: Path, num_shards: int, out: Path, seed: int,
                  world_size: int, device: str, precision: str, workers: int) -> list[str]:
    """Return ``open_clip_train.main`` arguments training ``scale`` on the resharded subset.

    Samples seen are fixed by the scale whatever the subset size: ``--train-num-samples``
    is ``samples_seen / epochs`` and ``--dataset-resampled`` draws with replacement.
    """
    steps = steps_per_epoch(scale, workers)
    argv = [
        "--model", str(scale["model"]),
        "--train-data", shard_pattern(shard_dir, num_shards),
        "--dataset-type", "webdataset",
        "--train-num-samples", str(math.ceil(int(scale["samples_seen"]) / int(scale["epochs"]))),
        "--epochs", str(scale["epochs"]),
        "--batch-size", str(per_gpu_batch(scale, world_size)),
        "--lr", repr(float(scale["lr"])),
        "--warmup", str(scale["warmup"]),
        "--lr-scheduler", str(scale["lr_scheduler"]),
        "--beta1", repr(float(scale["beta1"])),
        "--beta2", repr(float(scale["beta2"])),
        "--eps", repr(float(scale["eps"])),
        "--wd", repr(float(scale["wd"])),
        "--precision", precision,
        "--device", device,
        "--workers", str(workers),
        "--seed", str(seed),
        "--logs", str(out),
        "--name", LOG_NAME,
        "--save-frequency", "1",
        "--resume", "latest",
        "--log-every-n-steps", str(max(1, min(100, steps // 10))),
        "--report-to", "",
    ]
    if scale["resampled"]:
        argv.append("--dataset-resampled")
    if world_size > 1:  # as DataComp trains: exact gradients, features gathered per rank
        argv += ["--local-loss", "--gather-with-grad"]
    return argv
