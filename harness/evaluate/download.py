"""``selbench download-evalsets data_root=DIR [only=[...]]``: fetch DataComp's evaluation sets.

Optional and networked; nothing else in selbench downloads. Sources are the ``hub`` fields
of harness/conf/tasks/datacomp38.yaml, as DataComp's download_evalsets.py / eval code use them:

- ``hub_format: wds``: a Hugging Face dataset repository already in clip_benchmark's
  webdataset layout (``djghosh/wds_<task>_test``), copied with ``huggingface_hub``'s
  ``snapshot_download`` into ``<data_root>/<dir>``.
- ``hub_format: datasets`` (Flickr, MSCOCO, WinoGAViL): DataComp loads ``nlphuji/<name>``
  with Hugging Face ``datasets``; selbench converts it once into webdataset shards
  (needs the ``datasets`` package). Flickr and MSCOCO images are stored as downloaded (the
  image column is read undecoded and its bytes written unchanged). The field names used (image/caption;
  cue/candidates/associations/candidate_images) are DataComp's; the conversion has not been
  run against the live datasets from this machine (no network).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

from harness.errors import SelbenchError
from harness.io import write_text_atomic
from harness.pool.shards import write_tar

SHARD_SIZE = 1000


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF8", "gif"))


def raw_image(image) -> tuple[str, bytes]:
    """``(extension, bytes)`` of an image as downloaded: a Hugging Face ``Image(decode=False)``
    value (``{"bytes": ..., "path": ...}``) is kept byte for byte, its type read from its magic
    number; an already decoded PIL image (no bytes left to keep) is written as lossless PNG."""
    if isinstance(image, dict) and image.get("bytes"):
        data = bytes(image["bytes"])
        for magic, ext in MAGIC:
            if data.startswith(magic):
                return ext, data
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return "webp", data
        raise SelbenchError(f"image {image.get('path') or ''}: unknown image format "
                            f"(first bytes {data[:8]!r})")
    if hasattr(image, "save"):
        return "png", _png(image)
    raise SelbenchError(f"cannot store an image of type {type(image).__name__}")


def write_shards(samples: Iterable[dict], task_dir: Path, shard_size: int = SHARD_SIZE) -> int:
    """Write samples as ``test/{i}.tar`` shards plus ``test/nshards.txt``; return the count."""
    batch, shard, total = [], 0, 0
    for sample in samples:
        batch.append(sample)
        if len(batch) == shard_size:
            total += write_tar(task_dir / "test" / f"{shard}.tar", batch)
            batch, shard = [], shard + 1
    if batch or shard == 0:
        total += write_tar(task_dir / "test" / f"{shard}.tar", batch)
        shard += 1
    write_text_atomic(task_dir / "test" / "nshards.txt", f"{shard}\n")
    return total


def write_retrieval(examples: Iterable[dict], task_dir: Path, shard_size: int = SHARD_SIZE) -> int:
    """Convert ``{"image": ..., "caption": [str, ...]}`` examples to a retrieval webdataset.

    Images are stored as downloaded (``raw_image``: the original JPEG/PNG bytes, not re-encoded).
    """
    def samples():
        for i, ex in enumerate(examples):
            captions = ex["caption"] if isinstance(ex["caption"], list) else [ex["caption"]]
            ext, data = raw_image(ex["image"])
            yield {"__key__": f"{i:08d}", ext: data,
                   "txt": "\n".join(c.replace("\n", " ") for c in captions)}

    n = write_shards(samples(), task_dir, shard_size)
    write_text_atomic(task_dir / "dataset_type.txt", "retrieval\n")
    return n


def write_winogavil(examples: Iterable[dict], task_dir: Path, shard_size: int = SHARD_SIZE) -> int:
    """Convert WinoGAViL examples (cue, candidates, associations, candidate_images) to shards."""
    def samples():
        for i, ex in enumerate(examples):
            sample = {"__key__": f"{i:08d}",
                      "json": {"cue": ex["cue"], "candidates": list(ex["candidates"]),
                               "associations": list(ex["associations"])}}
            for j, image in enumerate(ex["candidate_images"]):
                sample[f"c{j:02d}.png"] = _png(image)
            yield sample

    n = write_shards(samples(), task_dir, shard_size)
    write_text_atomic(task_dir / "dataset_type.txt", "winogavil\n")
    return n


def fetch(task, data_root: Path) -> None:
    """Download one task into ``<data_root>/<task.dir>`` (network)."""
    target = task.data_dir(data_root)
    if task.hub_format == "wds":
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=task.hub, repo_type="dataset", local_dir=str(target))
        return
    try:
        import datasets as hf_datasets
    except ImportError as exc:
        raise SelbenchError(f"{task.key} comes from the Hugging Face dataset {task.hub}: "
                            "`pip install datasets` to convert it") from exc
    ds = hf_datasets.load_dataset(task.hub, split="test", cache_dir=str(data_root / "hf_cache"))
    if task.evaluator != "winogavil" and "image" in ds.features:
        ds = ds.cast_column("image", hf_datasets.Image(decode=False))  # keep the downloaded bytes
    writer = write_winogavil if task.evaluator == "winogavil" else write_retrieval
    writer(ds, target)


def main(cfg, words) -> int:
    """Fetch the suite's (or the chosen) evaluation sets into ``data_root``; return 0."""
    from harness.evaluate.datasets import is_present
    from harness.evaluate.tasks import as_key_list, load_suite, select_tasks

    if words:
        raise SelbenchError(f"unexpected argument {words[0]!r}: selbench download-evalsets data_root=DIR")
    if not cfg.get("data_root"):
        raise SelbenchError("selbench download-evalsets needs data_root=DIR")
    tasks = select_tasks(load_suite(str(cfg.suite)), as_key_list(cfg.get("only")))
    if any(t.hub is None for t in tasks):
        raise SelbenchError(f"suite {cfg.suite!r} has no download source (the tiny suite is "
                            "built with the embedded pool: selbench pool build)")
    root = Path(cfg.data_root)
    failed = []
    for task in tasks:
        if is_present(task, root):
            print(f"{task.key}: present at {task.data_dir(root)}")
            continue
        print(f"{task.key}: fetching {task.hub} -> {task.data_dir(root)}")
        try:
            fetch(task, root)
        except SelbenchError:
            raise
        except Exception as exc:  # network and hub errors: report, go on with the others
            first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            failed.append(f"{task.key} ({exc.__class__.__name__}: {first})")
    if failed:
        raise SelbenchError(f"{len(failed)} download(s) failed: {'; '.join(failed)}")
    return 0
