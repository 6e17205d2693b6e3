"""open_clip_train's resampled webdataset pipeline, made deterministic by --seed."""
import pytest
import torch

from harness.models import register_model_configs
from harness.train import seeding
from harness.train.reshard import reshard

from .conftest import pool_uids, subset_file


def _loader(shards: str, seed: int, workers: int, samples: int, train_transform: bool, epoch: int):
    """open_clip_train's resampled webdataset loader (batch 16, selbench-minimal's tokenizer)."""
    import open_clip
    from open_clip_train.data import get_wds_dataset
    from open_clip_train.params import parse_args

    register_model_configs()
    args = parse_args(["--train-data", shards, "--dataset-type", "webdataset", "--dataset-resampled",
                       "--train-num-samples", str(samples), "--batch-size", "16", "--workers", str(workers),
                       "--seed", str(seed), "--model", "selbench-minimal"])
    args.world_size, args.rank = 1, 0
    tok = open_clip.get_tokenizer("selbench-minimal")
    # train_transform: RandomResizedCrop, which draws from torch's RNG
    preprocess = open_clip.image_transform(32, is_train=train_transform)
    return get_wds_dataset(args, preprocess, True, epoch=epoch, tokenizer=tok)


def _captions(shards: str, seed: int, workers: int, epochs=(0, 1)) -> list[list[str]]:
    info = _loader(shards, seed, workers, 64, False, 0)
    out = []
    for epoch in epochs:
        info.set_epoch(epoch)
        out.append([t.tolist() for _, texts in info.dataloader for t in texts])
    return out


@pytest.mark.parametrize("workers", [0, 1])
def test_same_seed_same_stream(tmp_path, tar_pool, workers, monkeypatch):
    import open_clip_train.data as data

    monkeypatch.setattr(data, "_SAMPLE_SHUFFLE_SIZE", 60)   # keep the test fast: small buffer
    monkeypatch.setattr(data, "_SAMPLE_SHUFFLE_INITIAL", 20)
    seeding.install()
    sub = subset_file(tmp_path / "sub.npy", pool_uids(tar_pool))
    reshard(tar_pool, sub, tmp_path / "shards", max_shard_size=40, progress=False)
    shards = str(tmp_path / "shards" / "{00000000..00000002}.tar")
    torch.manual_seed(0)
    a = _captions(shards, seed=3, workers=workers)
    torch.manual_seed(0)
    b = _captions(shards, seed=3, workers=workers)
    torch.manual_seed(0)
    c = _captions(shards, seed=4, workers=workers, epochs=(0,))
    assert a == b
    assert a[0] != c[0]                     # the seed reaches both the shard and sample order
    assert a[0] != a[1]                # epochs differ
    assert len(a[0]) == 64


def _images(shards: str, seed: int, workers: int, epochs) -> dict[int, torch.Tensor]:
    """Epoch -> the augmented image batches of a fresh training loader (train-time transform)."""
    info = _loader(shards, seed, workers, 32, True, epochs[0])
    out = {}
    for epoch in epochs:
        info.set_epoch(epoch)
        out[epoch] = torch.cat([images for images, _ in info.dataloader])
    return out


@pytest.mark.parametrize("workers", [0, 1])
def test_epoch_augmentation_independent_of_history(tmp_path, tar_pool, workers, monkeypatch):
    """Epoch 2 of a loader that trained epochs 0-1 equals epoch 2 of a fresh (resumed) loader."""
    import open_clip_train.data as data

    monkeypatch.setattr(data, "_SAMPLE_SHUFFLE_SIZE", 60)
    monkeypatch.setattr(data, "_SAMPLE_SHUFFLE_INITIAL", 20)
    seeding.install()
    sub = subset_file(tmp_path / "sub.npy", pool_uids(tar_pool))
    reshard(tar_pool, sub, tmp_path / "shards", max_shard_size=40, progress=False)
    shards = str(tmp_path / "shards" / "{00000000..00000002}.tar")
    torch.manual_seed(0)
    full = _images(shards, seed=3, workers=workers, epochs=[0, 1, 2])
    torch.manual_seed(123)                 # the trainer's global RNG in another state
    resumed = _images(shards, seed=3, workers=workers, epochs=[2])
    assert torch.equal(full[2], resumed[2])
    assert not torch.equal(full[1], full[2])


def test_train_one_epoch_reseeds_globals():
    """The wrapped ``train_one_epoch`` sees global RNGs that depend on (seed, rank, epoch) only."""
    import types

    seen = []
    wrapped = seeding._seeded_train_one_epoch(lambda *a, **k: seen.append(torch.rand(3)))
    args = types.SimpleNamespace(seed=5, rank=0)
    for state in (0, 1):
        torch.manual_seed(state)
        wrapped(None, None, None, 4, None, None, None, None, args)
    wrapped(None, None, None, 3, None, None, None, None, args)
    assert torch.equal(seen[0], seen[1]) and not torch.equal(seen[0], seen[2])
