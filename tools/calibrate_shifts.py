"""Calibrate the tiny suite's ImageNet dist. shift analogs on the teacher.

For each shift task and each severity level (harness/synth/shifts.py), draw the task's test
split as a pool build would (the pool's seed, the preset's test size) and measure the pool's
teacher (the miniature's "OpenAI CLIP") zero-shot on it; print the accuracy and its ratio to
the teacher's `objects` accuracy. The level is chosen by that ratio alone, against the ratio
real CLIP models keep on ImageNet's shifts (about 0.8; ../shared/reference/datacomp.md): no
student and no selection method takes part.

    python tools/calibrate_shifts.py --pool runs/pools/tiny-seed0 [more pools ...] [--levels 1,2,3,4,5]

Prints one JSON line per (pool, task, level), the ratio per level averaged over the pools, and
for each task the level whose mean ratio is closest to --target (default 0.8).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def teacher_accuracy(teacher, key: str, split) -> float:
    """Zero-shot score of ``teacher`` on a drawn ``split`` of classification task ``key``."""
    from harness.synth import evalsets as ev
    from harness.synth.zeroshot import classify, score

    spec = ev.TASKS[key]
    classes = teacher.class_embeddings(list(spec.classnames), list(spec.templates))
    return float(score(spec.metric, classify(teacher.encode_images(split.images), classes),
                       np.asarray(split.targets)))


def measure_pool(pool: Path, levels: list[int]) -> dict:
    """The teacher of ``pool`` on ``objects`` and on every shift task at ``levels``:
    ``{"objects": acc, (task, level): acc, ...}``, each line also printed as JSON."""
    from harness.synth import evalsets as ev
    from harness.synth.presets import load_preset
    from harness.synth.shifts import LEVELS
    from harness.synth.teacher import Teacher

    info = json.loads((pool / "pool.json").read_text())
    seed, n = int(info["seed"]), int(load_preset(info["preset"])["evalsets"]["test_size"])
    teacher = Teacher.load(pool / "teacher")
    out = {"objects": teacher_accuracy(teacher, "objects", ev.draw_split("objects", "test", n, seed))}
    print(json.dumps({"pool": str(pool), "seed": seed, "task": "objects", "acc": round(out["objects"], 4)}), flush=True)
    for task in LEVELS:
        for level in levels:
            acc = teacher_accuracy(teacher, task, ev.draw_split(task, "test", n, seed, level=level))
            out[task, level] = acc
            print(json.dumps({"pool": str(pool), "task": task, "level": level, "acc": round(acc, 4),
                              "ratio": round(acc / out["objects"], 3)}), flush=True)
    return out


def main() -> None:
    """Parse arguments, measure each pool's teacher at every level, print JSON lines and the
    level per task whose ratio (mean over the pools) is closest to the target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", required=True, nargs="+", help="built embedded pools (teacher/ and pool.json)")
    parser.add_argument("--levels", default="1,2,3,4,5")
    parser.add_argument("--target", type=float, default=0.8, help="ratio shift / objects to aim at")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from harness.synth.shifts import LEVELS

    torch.set_num_threads(args.threads)
    levels = [int(x) for x in args.levels.split(",")]
    runs = [measure_pool(Path(p), levels) for p in args.pool]
    choice = {}
    for task in LEVELS:
        ratios = {level: float(np.mean([r[task, level] / r["objects"] for r in runs])) for level in levels}
        print(json.dumps({"task": task, "mean_ratio_by_level": {k: round(v, 3) for k, v in ratios.items()}}))
        choice[task] = min(levels, key=lambda lv: (abs(ratios[lv] - args.target), lv))
    print(json.dumps({"target": args.target, "pools": len(runs), "chosen_levels": choice}), flush=True)


if __name__ == "__main__":
    main()
