"""The tiny evaluation suite: 11 tasks drawn like the pool, written in clip_benchmark's
webdataset layout (``<task>/{test,train}/{0..}.tar``, ``nshards.txt``, ``classnames.txt``,
``zeroshot_classification_templates.txt``, ``dataset_type.txt`` for retrieval).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from harness.io import write_text_atomic
from harness.pool.shards import write_tar
from harness.synth import captions as cap
from harness.synth.corrupt import shift_corruption
from harness.synth.real import digit_parts, photo_crop, render_digit
from harness.synth.scenes import background_rgb, render_scene, sample_scenes, scene_at
from harness.synth.shifts import HARSHEST, shift_setting
from harness.synth.text_images import render_text
from harness.synth.vocab import (COLOR_NAMES, CONCEPT_NAMES, COUNT_NAMES, NEGATIVE_WORDS,
                                 POSITION_NAMES, POSITIVE_WORDS, TEXTURE_NAMES)

DIGIT_FRACTIONS = {"pool": 0.5, "teacher": 0.2, "eval_train": 0.12, "eval_test": 0.18}
SHARD = 1000
_BACKDROPS = ("brick", "grass", "gravel", "moon", "hubble_deep_field", "coins", "coffee")
_OBJ_TEMPLATES = ("a photo of a {c}.", "a drawing of a {c}.", "an icon of a {c}.", "a {c}.",
                  "clipart of a {c}.", "a picture of the {c}.")


@dataclass(frozen=True)
class TaskSpec:
    """One task: class names (None for retrieval), templates, main metric, and a drawer."""

    key: str
    classnames: tuple[str, ...] | None
    templates: tuple[str, ...]
    metric: str
    draw: Callable  # (n, split, rng, level=...) -> (images, labels or caption lists)


def _balanced(n: int, k: int, rng) -> np.ndarray:
    labels = np.arange(-(-n // k) * k) % k
    return rng.permutation(labels)


def _object_scenes(labels: np.ndarray, rng, **fixed) -> dict:
    scenes = sample_scenes(len(labels), rng, count_p=(1, 0, 0, 0))
    scenes["concept"] = labels
    scenes["size"] = rng.integers(1, 3, len(labels))
    scenes["position"][:] = 4
    for k, v in fixed.items():
        scenes[k] = v
    return scenes


def _draw_objects(style: str, task: str | None = None):
    def draw(n, split, rng, level=HARSHEST):
        setting = shift_setting(task, level) if task else None
        labels = _balanced(n, len(CONCEPT_NAMES), rng)
        scenes = _object_scenes(labels, rng)
        images = []
        for i in range(len(labels)):
            scene = scene_at(scenes, i)
            if style == "background":
                photo = photo_crop(_BACKDROPS[int(rng.integers(len(_BACKDROPS)))], rng)
                bg = _backdrop(photo, background_rgb(scene), setting.opacity)
                images.append(render_scene(scene, rng, style="unusual", background=bg, shift=setting))
            elif style == "corrupt":
                images.append(shift_corruption(render_scene(scene, rng), rng, setting))
            else:
                images.append(render_scene(scene, rng, style=style, shift=setting))
        return np.stack(images), labels
    return draw


def _backdrop(photo: np.ndarray, plain_rgb: np.ndarray, opacity: float) -> np.ndarray:
    """``photo`` laid at ``opacity`` over the plain colour ``plain_rgb`` (1: the photo as it is)."""
    if opacity == 1.0:
        return photo
    return (opacity * photo.astype(np.float32) + (1 - opacity) * plain_rgb).round().astype(np.uint8)


def _draw_attribute(attr: str, k: int):
    def draw(n, split, rng, level=None):
        labels = _balanced(n, k, rng)
        scenes = sample_scenes(len(labels), rng, count_p=(1, 0, 0, 0))
        if attr == "count":
            scenes = sample_scenes(len(labels), rng, count_p=(1, 1, 1, 1))
            scenes["count"] = labels + 1
            scenes["size"][:] = 0
            scenes["position"] = np.where(labels == 0, scenes["position"], -1)
        elif attr == "position":
            scenes["position"], scenes["size"] = labels, np.zeros_like(labels)
        else:
            scenes[attr] = labels
            scenes["position"][:] = 4
            scenes["size"][:] = 2 if attr == "texture" else rng.integers(1, 3, len(labels))
        return np.stack([render_scene(scene_at(scenes, i), rng) for i in range(len(labels))]), labels
    return draw


def _draw_digits(n, split, rng, level=None):
    part = digit_parts(DIGIT_FRACTIONS)["eval_test" if split == "test" else "eval_train"]
    idx = part[:n] if n <= len(part) else part
    from harness.synth.real import digits

    return np.stack([render_digit(int(i), rng) for i in idx]), digits()[1][idx]


def _draw_sst2(n, split, rng, level=None):
    labels = _balanced(n, 2, rng)
    words = (NEGATIVE_WORDS, POSITIVE_WORDS)
    images = [render_text(cap.pick(rng, words[int(y)]), rng) for y in labels]
    return np.stack(images), labels


def _draw_retrieval(n, split, rng, captions_per_image: int = 5):
    scenes = sample_scenes(n, rng)
    images, texts = [], []
    for i in range(n):
        scene = scene_at(scenes, i)
        images.append(render_scene(scene, rng))
        texts.append([cap.object_caption(scene, rng, detail=rng.uniform(0.6, 1.0))
                      for _ in range(captions_per_image)])
    return np.stack(images), texts


TASKS: dict[str, TaskSpec] = {t.key: t for t in (
    TaskSpec("objects", CONCEPT_NAMES, _OBJ_TEMPLATES, "acc1", _draw_objects("normal")),
    TaskSpec("objects_sketch", CONCEPT_NAMES, _OBJ_TEMPLATES + ("a sketch of a {c}.", "an outline drawing of a {c}."),
             "acc1", _draw_objects("sketch", "objects_sketch")),
    TaskSpec("objects_corrupt", CONCEPT_NAMES, _OBJ_TEMPLATES + ("a blurry photo of a {c}.", "a noisy photo of a {c}."),
             "acc1", _draw_objects("corrupt", "objects_corrupt")),
    TaskSpec("objects_background", CONCEPT_NAMES, _OBJ_TEMPLATES + ("a {c} on a photo background.",),
             "acc1", _draw_objects("background", "objects_background")),
    TaskSpec("count", COUNT_NAMES, ("{c} objects.", "a picture of {c} shapes.", "{c} things.",
                                    "there are {c} objects in the image."), "acc1", _draw_attribute("count", 4)),
    TaskSpec("color", COLOR_NAMES, ("a {c} object.", "a {c} shape.", "something {c}.", "a {c} icon."),
             "acc1", _draw_attribute("color", 10)),
    TaskSpec("position", POSITION_NAMES, ("an object {c}.", "a shape in the {c}.", "something at the {c}.",
                                          "a small icon, {c}."), "acc1", _draw_attribute("position", 5)),
    TaskSpec("texture", TEXTURE_NAMES, ("a {c} object.", "a {c} shape.", "a {c} pattern.", "a {c} icon."),
             "acc1", _draw_attribute("texture", 4)),
    TaskSpec("digits", tuple(str(d) for d in range(10)),
             ('a photo of the number: "{c}".', "a handwritten digit {c}.", "the number {c}.", "digit {c}."),
             "mean_per_class_recall", _draw_digits),
    TaskSpec("rendered_sst2", ("negative", "positive"),
             ("a {c} review of a movie.", "a {c} comment.", "{c} text."), "acc1", _draw_sst2),
    TaskSpec("retrieval", None, (), "mean_recall@1", _draw_retrieval),
)}


@dataclass
class EvalSplit:
    """One drawn split: images (n, 32, 32, 3) uint8 and labels (ints) or caption lists."""

    images: np.ndarray
    targets: list


def draw_split(key: str, split: str, n: int, seed: int, captions_per_image: int = 5,
               level: int = HARSHEST) -> EvalSplit:
    """Draw ``n`` examples (balanced where classes exist) of task ``key``'s ``split``
    (retrieval: ``captions_per_image`` captions per image; shift tasks: at severity ``level``,
    see ``harness.synth.shifts``; other tasks ignore it)."""
    stream = 100 + 2 * list(TASKS).index(key) + (split == "train")
    rng = np.random.default_rng([seed, stream])
    if key == "retrieval":
        images, targets = _draw_retrieval(n, split, rng, captions_per_image)
    else:
        images, targets = TASKS[key].draw(n, split, rng, level=level)
    return EvalSplit(images, list(targets))


def write_split(task_dir: Path, split: str, data: EvalSplit, retrieval: bool) -> None:
    """Write a split as ``{0..}.tar`` (png + cls, or png + txt) and ``nshards.txt``."""
    out = task_dir / split
    out.mkdir(parents=True, exist_ok=True)
    shards = 0
    for shards, start in enumerate(range(0, len(data.images), SHARD), start=1):
        samples = []
        for i in range(start, min(len(data.images), start + SHARD)):
            sample = {"__key__": f"s{i:07d}", "png": png_bytes(data.images[i])}
            if retrieval:
                sample["txt"] = "\n".join(data.targets[i])
            else:
                sample["cls"] = str(int(data.targets[i]))
            samples.append(sample)
        write_tar(out / f"{shards - 1}.tar", samples)
    write_text_atomic(out / "nshards.txt", f"{shards}\n")


CLASS_FREQUENCY_FILE = "class_frequency.json"


def write_class_frequency(task_dir: Path, spec: TaskSpec, seed: int) -> bool:
    """Write ``class_frequency.json`` (each class's frequency group in the pool of ``seed``:
    ``head``/``mid``/``tail`` as the generator drew the concepts, the audit's groups) for a task
    whose classes are the pool's object concepts; return whether it applied."""
    from harness.io import write_json_atomic
    from harness.synth.longtail import concept_ranks, frequency_group

    if spec.classnames != CONCEPT_NAMES:
        return False
    ranks = concept_ranks(len(CONCEPT_NAMES), seed)
    write_json_atomic(task_dir / CLASS_FREQUENCY_FILE, {
        "classes": list(CONCEPT_NAMES), "group": [str(g) for g in frequency_group(ranks, len(ranks))],
        "source": f"embedded pool seed {seed}: Zipf rank of each concept, thirds of the ranking"})
    return True


def write_task_meta(task_dir: Path, spec: TaskSpec) -> None:
    """Write ``classnames.txt`` and templates, or ``dataset_type.txt`` for retrieval."""
    task_dir.mkdir(parents=True, exist_ok=True)
    if spec.classnames is None:
        write_text_atomic(task_dir / "dataset_type.txt", "retrieval\n")
        return
    write_text_atomic(task_dir / "classnames.txt", "\n".join(spec.classnames) + "\n")
    write_text_atomic(task_dir / "zeroshot_classification_templates.txt", "\n".join(spec.templates) + "\n")


def png_bytes(image: np.ndarray) -> bytes:
    """Lossless PNG encoding of a uint8 RGB image."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()
