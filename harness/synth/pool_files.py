"""Writing the drawn pool: final captions, DataComp shards (tar, parquet, npz, stats), audit."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from harness.pool.layout import AUDIT_FILE
from harness.pool.shards import write_tar
from harness.pool.writer import shard_stem, write_embeddings, write_metadata, write_stats
from harness.synth import captions as cap
from harness.synth.longtail import concept_ranks, frequency_group
from harness.synth.presets import ALL_KINDS
from harness.synth.real import PHOTOS, digits
from harness.synth.samples import DOMAIN_CODES, DOMAIN_NAMES, KIND
from harness.synth.vocab import CONCEPT_NAMES

ARCH = "teacher"
SCORE_COLUMN = f"clip_{ARCH}_similarity_score"


def make_uid(seed: int, index: int) -> str:
    """The 32-hex-character uid of pool row ``index`` under ``seed``."""
    return hashlib.sha256(f"selbench-pool:{seed}:{index}".encode()).hexdigest()[:32]


def final_captions(plan: dict, clean: list[str], seed: int) -> list[str]:
    """Captions as stored: caption-level defects (mismatched, uninformative, generic) applied."""
    rng = np.random.default_rng([seed, 3])
    out = list(clean)
    for i, kind in enumerate(plan["defect"]):
        if kind == KIND["mismatched"]:
            out[i] = clean[int(plan["partner"][i])]
        elif kind == KIND["uninformative"]:
            out[i] = cap.uninformative_caption(rng)
        elif kind == KIND["generic"]:
            out[i] = cap.generic_caption(rng)
    return out


def original_sizes(plan: dict, seed: int, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Recorded 'original' (pre-resize) widths and heights; small ones more often for
    thumbnail-like defects (``small_original_prob`` per kind in the preset)."""
    rng = np.random.default_rng([seed, 4])
    n = len(plan["defect"])
    probs = cfg.get("small_original_prob", {})
    p_small = np.array([float(probs.get(ALL_KINDS[k], 0.15)) for k in plan["defect"]])
    small = rng.random(n) < p_small
    short = np.where(small, rng.integers(32, 200, n), rng.integers(200, 1200, n))
    aspect = np.exp(rng.normal(0.0, 0.45, n))
    long = np.round(short * np.maximum(aspect, 1 / aspect)).astype(np.int64)
    wide = rng.random(n) < 0.6
    return np.where(wide, long, short), np.where(wide, short, long)


def write_shards(root: Path, cfg: dict, seed: int, plan: dict, images, blobs, texts,
                 img_emb, txt_emb, progress=False) -> list[str]:
    """Write ``{:08d}.tar/.parquet/.npz`` and ``_stats.json`` per shard; return the uids."""
    from tqdm import tqdm

    n, size = len(texts), int(cfg["shard_size"])
    uids = [make_uid(seed, i) for i in range(n)]
    width, height = original_sizes(plan, seed, cfg)
    sha = [hashlib.sha256(b).hexdigest() for b in blobs]
    urls = [f"https://synthetic.selbench.invalid/{DOMAIN_NAMES[int(d)]}/{u[:12]}.jpg"
            for d, u in zip(plan["domain"], uids)]
    sims = (img_emb.astype(np.float32) * txt_emb.astype(np.float32)).sum(1)
    for s, start in enumerate(tqdm(range(0, n, size), desc="shards", disable=not progress, leave=False)):
        rows = range(start, min(n, start + size))
        stem = shard_stem(s)
        samples = [{"__key__": f"{i:09d}", "jpg": blobs[i], "txt": texts[i],
                    "json": {"uid": uids[i], "key": f"{i:09d}", "url": urls[i], "caption": texts[i],
                             "width": 32, "height": 32, "original_width": int(width[i]),
                             "original_height": int(height[i]), "sha256": sha[i]}} for i in rows]
        written = write_tar(root / f"{stem}.tar", samples)
        write_stats(root / f"{stem}_stats.json", written, len(samples))
        sl = slice(start, start + len(samples))
        write_metadata(root / f"{stem}.parquet", pd.DataFrame({
            "uid": uids[sl], "url": urls[sl], "text": texts[sl],
            "original_width": width[sl].astype(np.int64), "original_height": height[sl].astype(np.int64),
            "sha256": sha[sl], SCORE_COLUMN: sims[sl].astype(np.float32)}))
        write_embeddings(root / f"{stem}.npz", {f"{ARCH}_img": img_emb[sl], f"{ARCH}_txt": txt_emb[sl]})
    return uids


def row_concepts(plan: dict) -> list[str | None]:
    """The ground-truth content label of each row (object concept, digit, text, photo, face)."""
    labels = digits()[1]
    photos = list(PHOTOS)
    out = []
    for i, d in enumerate(plan["domain"]):
        d, item = int(d), int(plan["item"][i])
        if plan["dup_group"][i] >= 0:
            out.append(CONCEPT_NAMES[int(plan["dup_scene"]["concept"][plan["dup_group"][i]])])
        elif d == DOMAIN_CODES["object"]:
            out.append(CONCEPT_NAMES[int(plan["concept"][i])])
        elif d == DOMAIN_CODES["digit"]:
            out.append(f"digit {int(labels[item])}")
        elif d == DOMAIN_CODES["text"]:
            out.append("rendered text")
        elif d == DOMAIN_CODES["photo"]:
            out.append(f"photo {photos[item]}")
        else:
            out.append("face" if item < 100 else "non-face")
    return out


def write_audit(root: Path, plan: dict, uids: list[str], seed: int, cfg: dict) -> None:
    """Write ``audit.parquet``: uid, defect, domain, concept, concept_rank, frequency_group,
    duplicate_group (ground truth that no strategy may read)."""
    concepts = row_concepts(plan)
    ranks_of = concept_ranks(len(CONCEPT_NAMES), seed)
    index = {c: j for j, c in enumerate(CONCEPT_NAMES)}
    rank = np.array([ranks_of[index[c]] if c in index else -1 for c in concepts], dtype=np.int64)
    frame = pd.DataFrame({
        "uid": uids,
        "defect": [ALL_KINDS[int(k)] for k in plan["defect"]],
        "domain": [DOMAIN_NAMES[int(d)] for d in plan["domain"]],
        "concept": concepts,
        "concept_rank": rank,
        "frequency_group": frequency_group(rank, len(CONCEPT_NAMES)),
        "duplicate_group": np.asarray(plan["dup_group"], dtype=np.int64),
    })
    write_metadata(root / AUDIT_FILE, frame)
