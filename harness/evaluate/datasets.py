"""Evaluation data under a data root, in clip_benchmark's webdataset layout.

``<data_root>/<task.dir>/test/{0..n-1}.tar`` with ``test/nshards.txt``; classification tasks
have ``classnames.txt`` and ``zeroshot_classification_templates.txt``; retrieval tasks have
``dataset_type.txt`` = ``retrieval``. clip_benchmark's ``build_wds_dataset`` is the reader.
Nothing is downloaded here.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from harness.errors import SelbenchError


def shard_pattern(task_dir: Path, split: str = "test") -> str:
    """Brace pattern of a split's shards, from ``<split>/nshards.txt``."""
    nshards_file = task_dir / split / "nshards.txt"
    try:
        n = int(nshards_file.read_text().strip())
    except (OSError, ValueError) as exc:
        raise SelbenchError(f"{nshards_file}: unreadable shard count ({exc})") from exc
    if n < 1:
        raise SelbenchError(f"{nshards_file}: shard count must be >= 1")
    return str(task_dir / split / f"{{0..{n - 1}}}.tar")


def is_present(task, data_root: Path) -> bool:
    """Whether the task's test split is under ``data_root``."""
    return (task.data_dir(data_root) / "test" / "nshards.txt").is_file()


def missing_tasks(tasks, data_root: Path) -> list:
    """The tasks whose data directory (test split) is absent under ``data_root``."""
    return [t for t in tasks if not is_present(t, data_root)]


def check_present(tasks, data_root: Path, allow_missing: bool) -> list:
    """Return the present tasks; absent ones are an error naming every one unless allowed."""
    missing = missing_tasks(tasks, data_root)
    if missing and not allow_missing:
        listed = "; ".join(f"{t.key} ({t.data_dir(data_root)})" for t in missing)
        raise SelbenchError(f"{len(missing)} dataset(s) missing under {data_root}: {listed} "
                            "(run `selbench download-evalsets` or pass allow_missing=true)")
    absent = {t.key for t in missing}
    return [t for t in tasks if t.key not in absent]


PICKLE_EXTENSIONS = ("pyd", "pickle")


def refuse_pickles(task_dir: Path, split: str = "test") -> None:
    """Error if a shard holds ``.pyd``/``.pickle`` members (webdataset's decoder unpickles them)."""
    import tarfile

    n = int((task_dir / split / "nshards.txt").read_text().strip())
    for i in range(n):
        shard = task_dir / split / f"{i}.tar"
        try:
            with tarfile.open(shard, "r:") as tf:
                names = tf.getnames()
        except (OSError, tarfile.TarError) as exc:
            raise SelbenchError(f"{shard}: unreadable shard ({exc})") from exc
        bad = [m for m in names if m.rsplit(".", 1)[-1].lower() in PICKLE_EXTENSIONS]
        if bad:
            raise SelbenchError(f"{shard}: holds pickled members ({bad[0]}); refusing to decode them")


def build(task, data_root: Path, transform, retrieval: bool = False):
    """clip_benchmark's webdataset for the task's test split (``wds/<key>``), never downloading.

    Shards with pickled members are refused first: the webdataset decoder clip_benchmark
    uses would unpickle them.
    """
    from clip_benchmark.datasets.builder import build_dataset

    task_dir = task.data_dir(data_root)
    shard_pattern(task_dir)  # a clear error for a broken nshards.txt
    refuse_pickles(task_dir)
    try:
        return build_dataset(dataset_name=f"wds/{task.key}", root=str(task_dir), transform=transform,
                             split="test", download=False,
                             task="zeroshot_retrieval" if retrieval else "zeroshot_classification")
    except (AssertionError, FileNotFoundError, ValueError) as exc:
        raise SelbenchError(f"{task_dir}: not a clip_benchmark webdataset for {task.key} ({exc})") from exc


def loader(dataset, batch_size: int, num_workers: int = 0, captions: bool = False):
    """A DataLoader over batches of ``dataset`` in shard order (as DataComp batches them)."""
    import torch

    if captions:
        from clip_benchmark.datasets.builder import image_captions_collate_fn

        batched = dataset.batched(batch_size, collation_fn=image_captions_collate_fn)
    else:
        batched = dataset.batched(batch_size)
    return torch.utils.data.DataLoader(batched, batch_size=None, shuffle=False, num_workers=num_workers)


def eval_batches(dataset, task_dir: Path, transform, batch_size: int, num_workers: int = 0,
                 captions: bool = False):
    """``loader``'s batches, replayed from memory when this process already made them."""
    from harness.evaluate import batch_cache

    key = batch_cache.cache_key(task_dir, transform, batch_size, captions)
    return batch_cache.cached(lambda: loader(dataset, batch_size, num_workers, captions), key)


def raw_samples(task_dir: Path):
    """Yield the test split's samples as ``{"__key__", ext: bytes}`` dicts, undecoded, in order."""
    import webdataset as wds

    yield from wds.WebDataset(shard_pattern(task_dir), nodesplitter=lambda src: src)


def read_metadata(task_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Labels (``.cls``) and per-sample metadata rows (``.npy``) of the test split, in order.

    DataComp's WILDS and fairness webdatasets carry an integer metadata vector per sample in
    ``.npy`` (fields per task in harness/evaluate/evaluators.py). The layout of DataComp's
    released shards is taken from its eval code (eval_utils/wilds_eval.py, fairness_eval.py),
    not checked against the files here (no network).
    """
    labels, rows = [], []
    for sample in raw_samples(task_dir):
        if "cls" not in sample or "npy" not in sample:
            raise SelbenchError(f"{task_dir}: sample {sample.get('__key__')} lacks .cls or .npy metadata")
        labels.append(int(sample["cls"].decode().strip()))
        rows.append(np.load(io.BytesIO(sample["npy"]), allow_pickle=False).reshape(-1))
    if not rows:
        raise SelbenchError(f"{task_dir}: empty test split")
    return np.asarray(labels), np.stack(rows)


CLASS_FREQUENCY_FILE = "class_frequency.json"


def read_class_frequency(task_dir: Path, classes: list[str]) -> np.ndarray | None:
    """Each class's frequency group (e.g. ``head``/``mid``/``tail`` of the training pool's
    concept distribution) from the task's optional ``class_frequency.json``
    (``{"classes": [...], "group": [...]}``, the classes in the task's order); None without
    the file. A file that is not that shape, or names other classes, raises SelbenchError."""
    path = Path(task_dir) / CLASS_FREQUENCY_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SelbenchError(f"{path}: not a JSON file ({exc.__class__.__name__})") from None
    groups = data.get("group") if isinstance(data, dict) else None
    if (not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups)
            or data.get("classes") != list(classes)):
        raise SelbenchError(f"{path}: expected {{'classes': the task's {len(classes)} class names "
                            "in order, 'group': one non-empty name per class}")
    if len(groups) != len(classes):
        raise SelbenchError(f"{path}: {len(groups)} groups for {len(classes)} classes")
    return np.asarray(groups, dtype=object)


def read_winogavil(task_dir: Path):
    """Yield WinoGAViL examples ``(cue, [PIL images], truth bool array)`` from webdataset shards.

    selbench's layout (written by ``selbench download-evalsets`` from the Hugging Face dataset
    nlphuji/winogavil, whose fields cue / candidates / associations / candidate_images DataComp
    reads): per example ``KEY.json`` = {"cue", "candidates", "associations"} and the candidate
    images ``KEY.c00.png``, ``KEY.c01.png``, ... in candidate order.
    """
    from PIL import Image

    for sample in raw_samples(task_dir):
        meta = json.loads(sample["json"])
        names = sorted((k for k in sample if k.startswith("c") and k.endswith(".png")))
        if len(names) != len(meta["candidates"]):
            raise SelbenchError(f"{task_dir}: example {sample['__key__']} has {len(names)} images "
                                f"for {len(meta['candidates'])} candidates")
        images = [Image.open(io.BytesIO(sample[n])).convert("RGB") for n in names]
        truth = np.isin(meta["candidates"], meta["associations"])
        yield meta["cue"], images, truth
