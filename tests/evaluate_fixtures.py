"""Helpers for evaluation tests: small evaluation sets in clip_benchmark's webdataset layout
and a randomly initialised selbench-minimal checkpoint with its train.json. The fixtures
built from them live in tests/evaluate/conftest.py."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from harness.evaluate.tasks import load_suite
from harness.pool.shards import write_tar

TEMPLATES = ["a photo of a {c}.", "a drawing of a {c}."]


def _jpg(rng: np.random.Generator) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def write_classification(task_dir: Path, num_classes: int, n: int, seed: int = 0,
                         shard_size: int = 8, metadata: np.ndarray | None = None) -> np.ndarray:
    """A classification test split of ``n`` random images; returns the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    samples = []
    for i, y in enumerate(labels):
        s = {"__key__": f"s{i:05d}", "jpg": _jpg(rng), "cls": str(int(y))}
        if metadata is not None:
            buf = io.BytesIO()
            np.save(buf, metadata[i].astype(np.int64))
            s["npy"] = buf.getvalue()
        samples.append(s)
    shards = [samples[i:i + shard_size] for i in range(0, n, shard_size)]
    for k, shard in enumerate(shards):
        write_tar(task_dir / "test" / f"{k}.tar", shard)
    (task_dir / "test" / "nshards.txt").write_text(f"{len(shards)}\n")
    (task_dir / "classnames.txt").write_text("\n".join(f"class {c}" for c in range(num_classes)) + "\n")
    (task_dir / "zeroshot_classification_templates.txt").write_text("\n".join(TEMPLATES) + "\n")
    return labels


def write_retrieval(task_dir: Path, n: int, seed: int = 0, shard_size: int = 8) -> None:
    """A retrieval test split: ``n`` random images with two captions each."""
    rng = np.random.default_rng(seed)
    samples = [{"__key__": f"r{i:05d}", "jpg": _jpg(rng),
                "txt": f"picture number {i}\nthe {i}th image"} for i in range(n)]
    shards = [samples[i:i + shard_size] for i in range(0, n, shard_size)]
    for k, shard in enumerate(shards):
        write_tar(task_dir / "test" / f"{k}.tar", shard)
    (task_dir / "test" / "nshards.txt").write_text(f"{len(shards)}\n")
    (task_dir / "dataset_type.txt").write_text("retrieval\n")


def build_tiny_evalsets(root: Path, n: int = 12) -> Path:
    """Every task of the tiny suite, small, under ``root``."""
    for i, task in enumerate(load_suite("tiny")):
        if task.evaluator == "retrieval":
            write_retrieval(root / task.dir, n, seed=i)
        else:
            write_classification(root / task.dir, task.num_classes, n, seed=i)
    return root


def save_minimal_checkpoint(path: Path, model: str = "selbench-minimal", seed: int = 0,
                            train_info: dict | None = None) -> Path:
    """A randomly initialised open_clip checkpoint (open_clip_train's format) + train.json."""
    import open_clip
    import torch

    from harness.io import sha256_file
    from harness.models import register_model_configs

    register_model_configs()
    torch.manual_seed(seed)
    net = open_clip.create_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 1, "name": "test", "state_dict": net.state_dict()}, path)
    if train_info is not None:
        info = {"model": model, "scale": "tiny", "seed": 0, "subset_sha256": "ab" * 32,
                "selection": {"strategy": "clip_score", "params": {"fraction": 0.3},
                              "budget": {"fraction": 0.3}, "seed": 0},
                "checkpoint": path.name, "checkpoint_sha256": sha256_file(path), **train_info}
        (path.parent / "train.json").write_text(json.dumps(info))
    return path
