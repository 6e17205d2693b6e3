"""``build_pool``: the embedded benchmark, built offline and deterministically by seed.

Order: evaluation sets first (their pixel hashes are then forbidden), the teacher's clean
set, the pool, the teacher (trained on its set), the pool's embeddings and shards, the
audit, the evaluation files with the teacher's embeddings and zero-shot scores, MetaCLIP
entries, and ``pool.json``. Everything is written into ``.DIR.<owner>.XXXX.tmp`` beside it and
renamed to ``DIR`` at the end (a killed build's folder is removed by the next build, once its
owner is gone: ``harness.io.remove_stale``); a finished pool of the same preset and seed is reused.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.errors import SelbenchError
from harness.io import owner_tag, remove_stale_temps, write_json_atomic
from harness.pool.layout import POOL_INFO
from harness.pool.writer import write_pool_info
from harness.synth import evalsets as ev
from harness.synth.shifts import HARSHEST, shift_levels
from harness.synth.hashes import colliding_rows, nudge, pixel_hashes
from harness.synth.metaclip import english_words, metadata_entries
from harness.synth.plan import pool_plan, teacher_plan
from harness.synth.pool_files import final_captions, write_audit, write_shards
from harness.synth.presets import load_preset
from harness.synth.samples import KIND, encode_jpeg, phrases, render_plan

GENERATOR_VERSION = 3
EVAL_DIR = "evalsets"
TEACHER_DIR = "teacher"
METACLIP_FILE = "metaclip_entries.json"


def build_pool(out, preset: str = "tiny", seed: int = 0, progress: bool = True) -> dict:
    """Build the embedded pool of ``preset`` and ``seed`` at ``out``; return pool.json's dict.

    Reuses ``out`` when it already holds the finished pool of the same preset, seed and
    generator; raises ``SelbenchError`` when ``out`` holds anything else.
    """
    out = Path(out)
    cfg = load_preset(preset)
    stamp = _stamp(cfg)
    remove_stale_temps(out)  # half-built pools of killed builds (their owner is gone)
    if (out / POOL_INFO).exists():
        info = json.loads((out / POOL_INFO).read_text())
        if (info.get("preset"), info.get("seed"), info.get("generator", {}).get("stamp")) == (preset, seed, stamp):
            print(f"reusing the finished {preset} pool (seed {seed}) at {out}")
            return info
        if (info.get("preset"), info.get("seed")) == (preset, seed):
            gen = info.get("generator", {})
            raise SelbenchError(f"{out}: holds the {preset} pool of seed {seed} from generator version "
                                f"{gen.get('version')} or other preset settings (stamp {gen.get('stamp')}; "
                                f"this build: version {GENERATOR_VERSION}, stamp {stamp}); remove it or "
                                f"choose another out=")
        raise SelbenchError(f"{out}: holds another pool (preset {info.get('preset')}, seed "
                            f"{info.get('seed')}); remove it or choose another out=")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SelbenchError(f"{out}: exists and is not a finished pool; remove it or choose another out=")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{owner_tag()}.", suffix=".tmp", dir=out.parent))
    try:
        info = _build_into(tmp, cfg, preset, seed, stamp, progress)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _build_into(root: Path, cfg: dict, preset: str, seed: int, stamp: str, progress: bool) -> dict:
    t0 = time.time()
    phrase_list = phrases(english_words())
    workers = int(cfg.get("workers", 1))
    evals = draw_evalsets(cfg, seed)
    forbidden = {h for splits in evals.values() for s in splits.values() for h in pixel_hashes(s.images)}
    _log(progress, f"evaluation sets drawn ({time.time() - t0:.1f}s)")

    tplan = teacher_plan(cfg, seed, len(phrase_list), ev.DIGIT_FRACTIONS)
    t_images, t_captions, _ = render_plan(tplan, seed, 2, phrase_list, workers=workers,
                                          progress=progress and "teacher set")
    t_images = make_disjoint(t_images, forbidden)
    forbidden |= set(pixel_hashes(t_images))
    _log(progress, f"teacher set drawn: {len(t_images)} ({time.time() - t0:.1f}s)")

    plan = pool_plan(cfg, seed, len(phrase_list), ev.DIGIT_FRACTIONS)
    dup_seeds = [(seed, 5, g) for g in range(int(cfg["duplicate_sources"]))]
    images, clean, blobs = render_plan(plan, seed, 1, phrase_list, dup_seeds, jpeg=True,
                                       workers=workers, progress=progress and "pool")
    images, blobs = make_pool_disjoint(images, blobs, forbidden)
    texts = final_captions(plan, clean, seed)
    _log(progress, f"pool drawn: {len(images)} ({time.time() - t0:.1f}s)")

    from harness.synth.teacher import record_quality, train_teacher

    tcfg = cfg["teacher"]
    teacher = train_teacher(t_images, t_captions, root / TEACHER_DIR, seed=seed,
                            epochs=float(tcfg["epochs"]), batch_size=int(tcfg["batch_size"]),
                            progress=progress)
    _log(progress, f"teacher trained ({time.time() - t0:.1f}s)")
    img_emb = teacher.encode_images(images, progress=progress)
    txt_emb = teacher.encode_texts(texts, progress=progress)
    uids = write_shards(root, cfg, seed, plan, images, blobs, texts, img_emb, txt_emb, progress)
    write_audit(root, plan, uids, seed, cfg)
    zero_shot = write_evalsets(root / EVAL_DIR, evals, teacher, seed)
    auc = clipscore_auc(img_emb, txt_emb, plan["defect"])
    record_quality(root / TEACHER_DIR, zero_shot, auc)
    _log(progress, f"teacher: objects {zero_shot.get('objects', float('nan')):.3f}, "
                   f"CLIPScore AUC clean vs mismatched {auc if auc is not None else float('nan'):.3f}")
    write_json_atomic(root / METACLIP_FILE, metadata_entries())
    _log(progress, f"pool written ({time.time() - t0:.1f}s)")
    return write_pool_info(root, {
        "name": cfg["name"], "preset": preset, "seed": seed, "embedding": "teacher",
        "teacher": {"model": "selbench-teacher", "checkpoint": f"{TEACHER_DIR}/teacher.pt",
                    "arch": "teacher", "temperature": float(teacher.temperature),
                    "zero_shot": zero_shot, "clipscore_auc_clean_vs_mismatched": auc},
        "suite": "tiny", "evalsets": EVAL_DIR, "imagenet_analog": "objects",
        "metaclip_metadata": METACLIP_FILE,
        "english": True,  # captions are English by construction: DataComp's English filter accepts it
        "generator": {"version": GENERATOR_VERSION, "stamp": stamp, "defects": cfg["defects"],
                      "shift_levels": shift_levels(cfg.get("shifts")),
                      "teacher_set_size": len(t_images)},
    })


def draw_evalsets(cfg: dict, seed: int) -> dict[str, dict[str, ev.EvalSplit]]:
    """Draw every task's test and train split at the preset's sizes."""
    sizes, levels = cfg["evalsets"], shift_levels(cfg.get("shifts"))
    out = {}
    for key in ev.TASKS:
        test_n = sizes["retrieval_test_size"] if key == "retrieval" else sizes["test_size"]
        out[key] = {split: ev.draw_split(key, split, n, seed, sizes.get("retrieval_captions", 5),
                                         level=levels.get(key, HARSHEST))
                    for split, n in (("test", test_n), ("train", sizes["train_size"]))}
    return out


def write_evalsets(root: Path, evals: dict, teacher, seed: int) -> dict[str, float]:
    """Write the suite (with the object tasks' class frequency groups in the pool of ``seed``)
    and the teacher's embeddings; return the teacher's zero-shot scores."""
    from harness.synth.zeroshot import classify, mean_recall_at_1, score

    scores = {}
    for key, splits in evals.items():
        spec, task_dir = ev.TASKS[key], root / key
        ev.write_task_meta(task_dir, spec)
        ev.write_class_frequency(task_dir, spec, seed)
        for split, data in splits.items():
            ev.write_split(task_dir, split, data, retrieval=spec.classnames is None)
        _save_npy(task_dir / "train_teacher_img.npy", teacher.encode_images(splits["train"].images))
        test = splits["test"]
        img = teacher.encode_images(test.images)
        if spec.classnames is None:
            caps = [c for cs in test.targets for c in cs]
            owner = np.repeat(np.arange(len(test.targets)), [len(cs) for cs in test.targets])
            scores[key] = mean_recall_at_1(img, teacher.encode_texts(caps), owner)
            continue
        classes = teacher.class_embeddings(list(spec.classnames), list(spec.templates))
        _save_npy(task_dir / "classes_teacher_txt.npy", classes)
        scores[key] = score(spec.metric, classify(img, classes), np.asarray(test.targets))
    return {k: round(v, 6) for k, v in scores.items()}


def clipscore_auc(img_emb: np.ndarray, txt_emb: np.ndarray, defect: np.ndarray) -> float | None:
    """ROC AUC of the teacher's CLIP score f.g for telling clean pool pairs (positive) from
    mismatched ones (the audit's ground truth); None when either kind is absent."""
    from sklearn.metrics import roc_auc_score

    defect = np.asarray(defect)
    rows = (defect == KIND["clean"]) | (defect == KIND["mismatched"])
    labels = defect[rows] == KIND["clean"]
    if labels.all() or not labels.any():
        return None
    scores = np.einsum("ij,ij->i", img_emb[rows], txt_emb[rows])
    return round(float(roc_auc_score(labels, scores)), 6)


def make_disjoint(images: np.ndarray, forbidden: set[str]) -> np.ndarray:
    """Nudge rows whose pixel hash is forbidden until none is (returns a copy if changed)."""
    rows = colliding_rows(images, forbidden)
    if len(rows) == 0:
        return images
    images = images.copy()
    for i in rows:
        attempt = 1
        while pixel_hashes(nudge(images[i], attempt)[None])[0] in forbidden:
            attempt += 1
        images[i] = nudge(images[i], attempt)
    return images


def make_pool_disjoint(images: np.ndarray, blobs: list[bytes], forbidden: set[str]):
    """Like ``make_disjoint`` for JPEG-stored pool images: re-encode nudged rows."""
    rows = colliding_rows(images, forbidden)
    for i in rows:
        attempt = 1
        while True:
            data, decoded = encode_jpeg(nudge(images[i], attempt))
            if pixel_hashes(decoded[None])[0] not in forbidden:
                break
            attempt += 1
        images[i], blobs[i] = decoded, data
    return images, blobs


def _save_npy(path: Path, arr: np.ndarray) -> None:
    from harness.io import atomic_path

    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.ascontiguousarray(arr, dtype=np.float32))


def _stamp(cfg: dict) -> str:
    text = json.dumps({"cfg": cfg, "version": GENERATOR_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[pool build] {msg}", flush=True)
