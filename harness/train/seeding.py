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
    return changed


def install() -> None:
    """Wrap ``open_clip_train.data.get_wds_dataset`` to seed training pipelines (idempotent)."""
    import open_clip_train.data as data

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
