"""Make open_clip_train's resampled webdataset pipeline deterministic by ``--seed``.

open_clip_train 3.3.0 (``data.get_wds_dataset``) builds, for ``--dataset-resampled``:
``ResampledShards2(deterministic=True)`` -> tar expansion -> ``wds.shuffle(5000, 1000)``.
Two things break "same seed, same weights":

- ``wds.shuffle`` is built without an rng, and webdataset 0.2.86's ``_shuffle`` then seeds
  ``random.Random`` from ``os.getpid() + time.time()``: the sample order changes per run.
- ``ResampledShards2`` seeds its shard choice from ``pytorch_worker_seed(epoch)``, which
  with ``--workers 0`` is ``wds.utils.pytorch_worker_seed() = rank * 1000 + worker``, so
  ``--seed`` does not reach the shard order at all (with workers it comes from torch's
  seeded RNG, which is deterministic).

``install()`` wraps ``get_wds_dataset`` so that, for training data, the shard sampler and
the sample shuffle are both seeded from (``--seed``, rank, dataloader worker, epoch); the
epoch is read from the pipeline's own ``SharedEpoch``, as open_clip does for shards. It
must run in the process that calls ``open_clip_train.main.main`` (see ``entry``).

Resume (``--resume latest``) must train epoch k exactly as an uninterrupted run does, but
``open_clip_train.main`` seeds the global ``random``/numpy/torch RNGs only once, from
(``--seed``, rank), when the process starts. Their state at epoch k therefore depends on
how many epochs this process has trained: the augmentation (``RandomResizedCrop`` draws
from torch's global RNG, in the dataloader worker, whose RNG persists across epochs with
``persistent_workers``, or in the trainer with ``--workers 0``) and any dropout. So
``install()`` also reseeds, at the start of every epoch, the global RNGs of the trainer
(wrapping ``train_one_epoch``) and of each dataloader worker (a pipeline stage after the
shard sampler) from (``--seed``, rank, worker, epoch), and gives the DataLoader its own
generator for its base seed, so that creating the worker pool at epoch k (resume) does not
draw from the trainer's global RNG as it would only at epoch 0. Nothing random is carried
from one epoch to the next; the model, optimizer and scaler state come from the checkpoint.
"""
from __future__ import annotations

import random

import webdataset as wds
from webdataset.filters import FilterFunction, _shuffle


def _stream_seed(seed: int, epoch: int, what: str) -> str:
    """A string seed for ``random.Random`` (hashed with sha512: stable across processes)."""
    from torch.utils.data import get_worker_info

    info = get_worker_info()
    worker = info.id if info is not None else 0
    rank = wds.utils.pytorch_worker_info()[0]
    return f"selbench:{what}:seed={seed}:rank={rank}:worker={worker}:epoch={epoch}"


class SeededShuffle(wds.PipelineStage):
    """``wds.shuffle`` with its rng seeded from (seed, rank, worker, epoch)."""

    def __init__(self, bufsize: int, initial: int, seed: int, epoch):
        self.bufsize, self.initial, self.seed, self.epoch = bufsize, initial, seed, epoch

    def run(self, src):
        """Shuffle ``src`` through a buffer, as ``wds.shuffle`` does, with a seeded rng."""
        rng = random.Random(_stream_seed(self.seed, self.epoch.get_value(), "samples"))
        return _shuffle(src, self.bufsize, self.initial, rng)


def _int_seed(text: str) -> int:
    """A 62-bit integer derived from ``text`` (stable across processes and runs)."""
    return random.Random(text).getrandbits(62)


def reseed_globals(text: str) -> None:
    """Seed python's ``random``, numpy's global RNG and torch's (CPU and CUDA) from ``text``."""
    import numpy as np
    import torch

    value = _int_seed(text)
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.manual_seed(value)


class EpochReseed(wds.PipelineStage):
    """Pass samples through unchanged; first reseed this process's global RNGs for the epoch.

    Runs where the pipeline runs (each dataloader worker, or the trainer with no workers),
    so the augmentations of epoch k depend on (seed, rank, worker, k) only.
    """

    def __init__(self, seed: int, epoch):
        self.seed, self.epoch = seed, epoch

    def run(self, src):
        """Yield from ``src`` after reseeding the global RNGs from (seed, rank, worker, epoch)."""
        reseed_globals(_stream_seed(self.seed, self.epoch.get_value(), "augment"))
        yield from src


class _ShardSeed:
    """A picklable ``worker_seed`` for ``ResampledShards2`` (it adds the epoch itself)."""

    def __init__(self, seed: int):
        self.seed = seed

    def __call__(self) -> int:
        return random.Random(_stream_seed(self.seed, 0, "shards")).getrandbits(62)


def seed_train_pipeline(info, seed: int) -> int:
    """Seed the shard sampler and replace the unseeded shuffle in ``info``; return #changes."""
    from open_clip_train.data import ResampledShards2

    loader = info.dataloader.pipeline[0]          # WebLoader wraps one torch DataLoader
    stages = loader.dataset.pipeline               # the wds.DataPipeline's stages
    changed = 0
    for i, stage in enumerate(stages):
        if isinstance(stage, ResampledShards2):
            stage.worker_seed = _ShardSeed(seed)
            changed += 1
        elif isinstance(stage, FilterFunction) and stage.f is _shuffle:
            bufsize = stage.kw.get("bufsize", stage.args[0] if stage.args else 1000)
            initial = stage.kw.get("initial", stage.args[1] if len(stage.args) > 1 else 100)
            stages[i] = SeededShuffle(bufsize, initial, seed, info.shared_epoch)
            changed += 1
    if changed == 2 and isinstance(stages[0], ResampledShards2):
        stages.insert(1, EpochReseed(seed, info.shared_epoch))
        loader.generator = _loader_generator(seed)
    return changed


def _loader_generator(seed: int):
    """The DataLoader's own generator (its workers' base seed), seeded from (seed, rank)."""
    import torch

    generator = torch.Generator()
    generator.manual_seed(_int_seed(_stream_seed(seed, 0, "loader")))
    return generator


def _seeded_train_one_epoch(train_one_epoch):
    """``train_one_epoch`` that first reseeds the trainer's global RNGs from (seed, rank, epoch)."""
    def wrapped(model, data, loss, epoch, optimizer, scaler, scheduler, dist_model, args, **kwargs):
        reseed_globals(f"selbench:train:seed={args.seed}:rank={args.rank}:epoch={epoch}")
        return train_one_epoch(model, data, loss, epoch, optimizer, scaler, scheduler, dist_model,
                               args, **kwargs)

    wrapped._selbench_seeded = True
    return wrapped


def install() -> None:
    """Seed open_clip_train's training pipelines and reseed every epoch (idempotent)."""
    import open_clip_train.data as data
    import open_clip_train.main as main

    if not getattr(main.train_one_epoch, "_selbench_seeded", False):
        main.train_one_epoch = _seeded_train_one_epoch(main.train_one_epoch)
    if getattr(data.get_wds_dataset, "_selbench_seeded", False):
        return
    original = data.get_wds_dataset

    def get_wds_dataset(args, preprocess_img, is_train, epoch=0, floor=False, tokenizer=None):
        info = original(args, preprocess_img, is_train, epoch=epoch, floor=floor, tokenizer=tokenizer)
        if is_train and getattr(args, "dataset_resampled", False):
            if seed_train_pipeline(info, args.seed) != 2:
                raise RuntimeError("open_clip_train's webdataset pipeline changed: cannot seed it "
                                   "(expected ResampledShards2 and wds.shuffle)")
        return info

    get_wds_dataset._selbench_seeded = True
    data.get_wds_dataset = get_wds_dataset
