"""Helpers for the leaderboard tests: result files in `selbench run`'s run layout.

Per-task scores are chosen so the DataComp columns are easy to compute by hand (see
``ALPHA`` and the expected values in test_build.py).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

# tiny suite: objects (ImageNet); objects_sketch/corrupt/background (dist. shifts);
# count/color/position/texture/digits (VTAB); retrieval (Retrieval); rendered_sst2 (Average only)
ALPHA = {"objects": 0.50, "objects_sketch": 0.20, "objects_corrupt": 0.30,
         "objects_background": 0.40, "count": 0.10, "color": 0.60, "position": 0.20,
         "texture": 0.30, "digits": 0.80, "rendered_sst2": 0.50, "retrieval": 0.25}
BETA = dict(ALPHA, objects=0.60)
OFFSETS = {"alpha": (0.00, 0.02, 0.04), "beta": (0.00, 0.01, 0.05)}
METRIC = {"digits": "mean_per_class_recall", "retrieval": "mean_recall@1"}


def sha(text: str) -> str:
    """A stand-in sha256 (hex) derived from ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()


def result_lines(strategy: str, seed: int, scores: dict, suite: str = "tiny",
                 budget=None, scale: str = "tiny") -> list[dict]:
    """eval_results.jsonl lines of one run, as `selbench evaluate` writes them."""
    budget = {"fraction": 0.3} if budget is None else budget
    run = {"strategy": strategy, "params": {}, "budget": budget, "seed": seed, "scale": scale,
           "model": "selbench-tiny", "suite": suite,
           "subset_sha256": sha(f"subset {strategy} {budget} {seed}"),
           "checkpoint_sha256": sha(f"ckpt {strategy} {budget} {seed} {scale}")}
    lines = []
    for key, value in scores.items():
        metric = METRIC.get(key, "acc1")
        lines.append({"key": key, "dataset": key, "metrics": {metric: value, "main_metric": value},
                      "run": run})
    return lines


def write_run(root: Path, strategy: str, seed: int, scores: dict, budget=None,
              audit: dict | None = None, suite: str = "tiny", scale: str = "tiny") -> Path:
    """Write one run in the layout `<root>/runs/<strategy>/<budget>/seed<k>/` (subset.json,
    train/train.json, eval/eval_results.jsonl); return the results file."""
    lines = result_lines(strategy, seed, scores, suite=suite, budget=budget, scale=scale)
    run = lines[0]["run"]
    label = str((budget or {"fraction": 0.3}).get("fraction", "n"))
    run_dir = root / "runs" / strategy / label / f"seed{seed}"
    (run_dir / "eval").mkdir(parents=True, exist_ok=True)
    (run_dir / "train").mkdir(exist_ok=True)
    manifest = {"strategy": strategy, "params": {}, "budget": run["budget"], "seed": seed,
                "subset": "subset.npy", "subset_sha256": run["subset_sha256"]}
    if audit is not None:
        manifest["audit"] = audit
    (run_dir / "subset.json").write_text(json.dumps(manifest))
    train = {"scale": scale, "seed": seed, "subset_sha256": run["subset_sha256"],
             "checkpoint_sha256": run["checkpoint_sha256"], "selection": manifest}
    (run_dir / "train" / "train.json").write_text(json.dumps(train))
    path = run_dir / "eval" / "eval_results.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def audit_of(strategy: str, seed: int) -> dict:
    """An audit entry in harness.select.audit's format (values differ by strategy/seed)."""
    mismatched = {"alpha": 0.1, "beta": 0.3}[strategy] + 0.01 * seed
    return {"audited_rows": 100, "pool_rows": 100, "kept": 0.3,
            "defect_rows": {"clean": 70, "mismatched": 30},
            "defects_kept": {"clean": 0.4, "mismatched": mismatched},
            "concepts": 10, "head_concepts": 1, "tail_concepts": 5,
            "concepts_kept": {"head": 0.35, "tail": 0.2}, "concepts_covered": 0.9}
