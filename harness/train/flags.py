"""The open_clip_train command line for one run of a scale (DataComp's fixed flags).

The flags are those DataComp's ``train.py`` passes for the same scale and world size:
``--grad-checkpointing``, ``--ddp-static-graph``, ``--local-loss``, ``--gather-with-grad``
(always, as DataComp does; the last three act only when there is more than one process),
``--accum-freq`` from the scale's ``accum_freq`` key (per-process batch = global batch /
(world size x accum_freq)) and ``--save-most-recent``. selbench also passes, with the value
open_clip would otherwise default to for the model, ``--beta1``, ``--beta2``, ``--eps``,
``--wd`` and ``--lr-scheduler`` (so the run's log states them), and differs from DataComp in
``--save-frequency 1`` (every epoch's checkpoint kept: DataComp's default 0 keeps the final
one and ``epoch_latest.pt``), ``--device`` and ``--report-to ''`` (no wandb). A scale may turn
grad checkpointing off (``grad_checkpointing: false``: tiny, where it only costs time on a CPU).
"""
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
    """The scale's global batch over ``world_size`` processes and ``accum_freq`` micro-batches
    (must divide exactly, as DataComp's ``global // (world_size * accum_freq)`` assumes)."""
    global_batch = int(scale["global_batch_size"])
    accum = int(scale.get("accum_freq", 1))
    if accum < 1:
        raise SelbenchError(f"scale {scale['name']}: accum_freq={accum} must be >= 1")
    if global_batch % (world_size * accum):
        raise SelbenchError(f"scale {scale['name']}: global batch {global_batch} is not divisible "
                            f"by {world_size} processes x accum_freq {accum}")
    return global_batch // (world_size * accum)


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
        "--save-most-recent",
        "--resume", "latest",
        "--accum-freq", str(int(scale.get("accum_freq", 1))),
        "--ddp-static-graph",
        "--local-loss",
        "--gather-with-grad",
        "--log-every-n-steps", str(max(1, min(100, steps // 10))),
        "--report-to", "",
    ]
    if scale.get("grad_checkpointing", True):
        argv.append("--grad-checkpointing")
    if scale["resampled"]:
        argv.append("--dataset-resampled")
    return argv
