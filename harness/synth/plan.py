"""Plans of the pool and of the teacher's clean set: what each sample is, before drawing.

A plan assigns every row a domain, a defect kind, scene attributes, an item (digit, phrase,
photo or face index) and, for defects that need one, a partner or a duplicate group. It
is made in one process from one random stream, so it depends only on the preset and seed.
"""
from __future__ import annotations

import numpy as np

from harness.synth.longtail import concept_probabilities
from harness.synth.presets import ALL_KINDS, DEFECT_KINDS
from harness.synth.real import digit_parts, faces
from harness.synth.samples import DOMAIN_CODES, KIND, PHOTO_NAMES
from harness.synth.scenes import sample_scenes
from harness.synth.vocab import CONCEPTS

OFF_DOMAIN_FACE_SHARE = 0.3


def defect_counts(cfg: dict, n: int) -> dict[str, int]:
    """Number of pool rows of each kind (``round(rate * n)``; the rest are clean)."""
    counts = {k: int(round(float(cfg["defects"].get(k, 0.0)) * n)) for k in DEFECT_KINDS}
    return {"clean": n - sum(counts.values()), **counts}


def pool_plan(cfg: dict, seed: int, num_phrases: int, digit_fractions: dict) -> dict:
    """The plan of the pool (see module docstring) for preset ``cfg`` and ``seed``."""
    n = int(cfg["pool_size"])
    rng = np.random.default_rng([seed, 1])
    counts = defect_counts(cfg, n)
    defect = rng.permutation(np.repeat([KIND[k] for k in ALL_KINDS], [counts[k] for k in ALL_KINDS]))
    p = concept_probabilities(len(CONCEPTS), float(cfg["zipf_exponent"]), seed)
    plan = sample_scenes(n, rng, concept_p=p)
    shares = np.array([cfg["domains"][d] for d in ("object", "digit", "text")], dtype=np.float64)
    plan["domain"] = rng.choice(3, size=n, p=shares / shares.sum())
    plan["defect"] = defect
    off = defect == KIND["off_domain"]
    plan["domain"][off] = np.where(rng.random(int(off.sum())) < OFF_DOMAIN_FACE_SHARE,
                                   DOMAIN_CODES["face"], DOMAIN_CODES["photo"])
    dup = defect == KIND["duplicate"]
    plan["domain"][dup] = DOMAIN_CODES["object"]
    plan["item"] = _items(plan["domain"], rng, num_phrases, digit_parts(digit_fractions)["pool"])
    groups = int(cfg["duplicate_sources"])
    plan["dup_group"] = np.where(dup, rng.integers(0, groups, n), -1)
    plan["dup_scene"] = sample_scenes(groups, rng, concept_p=p)
    plan["partner_scene"] = sample_scenes(n, rng, concept_p=p)
    plan["partner"] = _partners(plan, rng)
    return plan


def teacher_plan(cfg: dict, seed: int, num_phrases: int, digit_fractions: dict) -> dict:
    """The plan of the teacher's clean set: uniform concepts, all domains, no defects."""
    n = int(cfg["teacher"]["size"])
    rng = np.random.default_rng([seed, 2])
    plan = sample_scenes(n, rng)
    shares = np.array([cfg["domains"][d] for d in ("object", "digit", "text")], dtype=np.float64)
    shares = np.concatenate([shares / shares.sum() * 0.95, [0.035, 0.015]])
    plan["domain"] = rng.choice(5, size=n, p=shares / shares.sum())
    plan["defect"] = np.zeros(n, np.int64)
    plan["item"] = _items(plan["domain"], rng, num_phrases, digit_parts(digit_fractions)["teacher"])
    plan["dup_group"] = np.full(n, -1)
    plan["dup_scene"] = sample_scenes(1, rng)
    plan["partner_scene"] = sample_scenes(n, rng)
    plan["partner"] = np.full(n, -1)
    return plan


def _items(domain: np.ndarray, rng, num_phrases: int, digit_part: np.ndarray) -> np.ndarray:
    item = np.zeros(len(domain), np.int64)
    for code, draw in ((DOMAIN_CODES["digit"], lambda m: rng.choice(digit_part, m)),
                       (DOMAIN_CODES["text"], lambda m: rng.integers(0, num_phrases, m)),
                       (DOMAIN_CODES["photo"], lambda m: rng.integers(0, len(PHOTO_NAMES), m)),
                       (DOMAIN_CODES["face"], lambda m: rng.integers(0, len(faces()), m))):
        rows = domain == code
        item[rows] = draw(int(rows.sum()))
    return item


def _partners(plan: dict, rng, tries: int = 8) -> np.ndarray:
    """For mismatched rows, another row whose content differs (other concept or domain)."""
    n = len(plan["domain"])
    partner = np.full(n, -1, np.int64)
    rows = np.flatnonzero(plan["defect"] == KIND["mismatched"])
    cand = (rows + rng.integers(1, n, len(rows))) % n
    for _ in range(tries):
        same = _same_content(plan, rows, cand)
        if not same.any():
            break
        cand[same] = (rows[same] + rng.integers(1, n, int(same.sum()))) % n
    partner[rows] = cand
    return partner


def _same_content(plan, a, b) -> np.ndarray:
    dom = plan["domain"]
    same_dom = dom[a] == dom[b]
    obj = dom[a] == DOMAIN_CODES["object"]
    return same_dom & np.where(obj, plan["concept"][a] == plan["concept"][b], plan["item"][a] == plan["item"][b])
