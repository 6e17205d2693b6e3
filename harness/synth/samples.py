"""Drawing image-caption samples from a plan, chunk by chunk (optionally in 2 processes).

A *plan* is a dict of equal-length arrays made in one process with one random stream:
``domain`` (see DOMAIN_CODES), ``defect`` (index into ``ALL_KINDS``), the scene attributes,
``item`` (digit index / phrase index / photo index / face index), ``partner`` (the sample
whose caption a text_in_image sample shows) and ``dup_group``. ``render_chunk`` draws the
images and clean captions of one chunk with its own stream ``(seed, stream, chunk)``, so
the output is the same whatever the number of worker processes.
"""
from __future__ import annotations

import io
import multiprocessing as mp
from typing import Callable

import numpy as np
from PIL import Image

from harness.synth import captions as cap
from harness.synth.corrupt import destroy
from harness.synth.presets import ALL_KINDS
from harness.synth.real import PHOTOS, photo_crop, render_digit, render_face, digits
from harness.synth.scenes import SCENE_KEYS, render_scene, scene_at
from harness.synth.text_images import overlay_text, render_text
from harness.synth.vocab import COLORS, CONCEPTS, NEGATIVE_WORDS, POSITIVE_WORDS

DOMAIN_CODES = {"object": 0, "digit": 1, "text": 2, "photo": 3, "face": 4}
DOMAIN_NAMES = {v: k for k, v in DOMAIN_CODES.items()}
PHOTO_NAMES = tuple(PHOTOS)
CHUNK = 1000
JPEG_QUALITY = 90
KIND = {k: i for i, k in enumerate(ALL_KINDS)}


def phrases(words: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """The rendered-text vocabulary: sentiment phrases (with their label), then plain words."""
    out = [(p, "positive") for p in POSITIVE_WORDS] + [(p, "negative") for p in NEGATIVE_WORDS]
    return tuple(out + [(w, None) for w in words if len(w) <= 7])


def render_sample(plan: dict, i: int, rng: np.random.Generator, phrase_list, dup_rngs) -> tuple[np.ndarray, str]:
    """Image and clean caption of plan row ``i`` (image-level defects applied, captions clean)."""
    domain, kind = int(plan["domain"][i]), ALL_KINDS[int(plan["defect"][i])]
    item = int(plan["item"][i])
    if kind == "duplicate":
        g = int(plan["dup_group"][i])
        base_rng = np.random.default_rng(dup_rngs[g])
        scene = scene_at(plan["dup_scene"], g)
        image = render_scene(scene, base_rng)
        caption = cap.object_caption(scene, base_rng)
        return _jiggle(image, rng), caption
    if domain == DOMAIN_CODES["object"]:
        scene = scene_at(plan, i)
        image = render_scene(scene, rng)
        caption = cap.object_caption(scene, rng)
    elif domain == DOMAIN_CODES["digit"]:
        image = render_digit(item, rng)
        caption = cap.digit_caption(int(digits()[1][item]), rng)
    elif domain == DOMAIN_CODES["text"]:
        phrase, sentiment = phrase_list[item]
        image = render_text(phrase, rng)
        caption = cap.text_caption(phrase, sentiment, rng)
    elif domain == DOMAIN_CODES["photo"]:
        image = photo_crop(PHOTO_NAMES[item], rng)
        caption = cap.photo_caption(PHOTO_NAMES[item], rng)
    else:
        image = render_face(item, rng)
        caption = cap.face_caption(item < 100, rng)
    if kind == "corrupted":
        image = destroy(image, rng)
    elif kind == "text_in_image":
        other = scene_at(plan["partner_scene"], i)
        noun = cap.concept_noun(other["concept"], rng)
        caption = cap.object_caption(other, rng, noun=noun)
        words = noun if rng.random() < 0.5 else f"{list(COLORS)[other['color']]} {noun}"
        image = overlay_text(image, words, rng)
    return image, caption


def _jiggle(image: np.ndarray, rng) -> np.ndarray:
    """A near-duplicate: a one-pixel roll and faint noise."""
    dy, dx = rng.integers(-1, 2, 2)
    out = np.roll(image, (int(dy), int(dx)), axis=(0, 1)).astype(np.float32)
    out += rng.normal(0, 2.0, out.shape)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def encode_jpeg(image: np.ndarray) -> tuple[bytes, np.ndarray]:
    """JPEG bytes of ``image`` (quality 90) and the decoded pixels a reader will see."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=JPEG_QUALITY)
    data = buf.getvalue()
    return data, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def render_chunk(job: tuple) -> tuple[np.ndarray, list[str], list[bytes] | None]:
    """Draw one chunk: ``job = (seed, stream, chunk, plan_slice, phrase_list, dup_seeds, jpeg)``.

    Returns (images uint8 (n, 32, 32, 3), clean captions, JPEG bytes or None). With
    ``jpeg`` the images returned are the decoded JPEG pixels.
    """
    seed, stream, chunk, plan, phrase_list, dup_seeds, jpeg = job
    rng = np.random.default_rng([seed, stream, chunk])
    n = len(plan["domain"])
    images = np.empty((n, 32, 32, 3), np.uint8)
    texts, blobs = [], [] if jpeg else None
    for i in range(n):
        image, caption = render_sample(plan, i, rng, phrase_list, dup_seeds)
        if jpeg:
            data, image = encode_jpeg(image)
            blobs.append(data)
        images[i] = image
        texts.append(caption)
    return images, texts, blobs


def render_plan(plan: dict, seed: int, stream: int, phrase_list, dup_seeds=(), jpeg: bool = False,
                workers: int = 1, progress: bool | str = False):
    """Draw every row of ``plan`` in chunks of 1000; return (images, captions, jpeg bytes|None)."""
    n = len(plan["domain"])
    jobs = [(seed, stream, c, _slice(plan, slice(s, min(n, s + CHUNK))), phrase_list,
             tuple(dup_seeds), jpeg) for c, s in enumerate(range(0, n, CHUNK))]
    results = _map(render_chunk, jobs, workers, progress, n)
    images = np.concatenate([r[0] for r in results]) if results else np.empty((0, 32, 32, 3), np.uint8)
    texts = [t for r in results for t in r[1]]
    blobs = [b for r in results for b in r[2]] if jpeg else None
    return images, texts, blobs


def _slice(plan: dict, sl: slice) -> dict:
    out = {}
    for k, v in plan.items():
        out[k] = {kk: vv[sl] for kk, vv in v.items()} if k == "partner_scene" else (
            v if k == "dup_scene" else v[sl])
    return out


def _map(fn: Callable, jobs: list, workers: int, progress, total: int) -> list:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=progress if isinstance(progress, str) else "drawing",
               unit="img", unit_scale=True, leave=False, disable=not progress)
    out = []
    if workers > 1 and len(jobs) > 1:
        ctx = mp.get_context("fork")
        with ctx.Pool(workers) as pool:
            for r in pool.imap(fn, jobs):
                out.append(r)
                bar.update(len(r[1]))
    else:
        for job in jobs:
            r = fn(job)
            out.append(r)
            bar.update(len(r[1]))
    bar.close()
    return out


def empty_scene_plan(n: int) -> dict[str, np.ndarray]:
    """Scene attribute arrays of length ``n`` filled with a neutral scene."""
    return {k: np.zeros(n, np.int64) + (1 if k == "count" else 0) for k in SCENE_KEYS}
