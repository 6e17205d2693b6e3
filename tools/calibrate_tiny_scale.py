"""Calibrate the tiny scale on the real pipeline: run ``selbench run`` (select, train, evaluate)
for one strategy and several training seeds under each of a few scale settings, then print,
per setting, the seeds' `objects` (ImageNet analog) and dist.-shift scores, their mean and
sample std, and the measured training time per cell. Used for harness/conf/scale/tiny.yaml.

    python tools/calibrate_tiny_scale.py --pool runs/pools/tiny-seed0 --out /tmp/cal \
        --setting "b128_s600: scale.samples_seen=76800 scale.warmup=60" \
        --setting "b64_lr4: scale.samples_seen=76800 scale.global_batch_size=64 scale.warmup=120 scale.lr=4e-3"

Each setting's runs go to ``OUT/<name>`` and are resumed if they exist. Times depend on the
machine and its load: compare settings measured in one quiet run of this script.
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

SHIFT_TASKS = ("objects_sketch", "objects_corrupt", "objects_background")


def cell_scores(cell: Path) -> dict:
    """``{task: main_metric}`` of one cell's ``eval/eval_results.jsonl`` plus its training time."""
    scores = {}
    for line in (cell / "eval" / "eval_results.jsonl").read_text().splitlines():
        row = json.loads(line)
        scores[row["key"]] = row["metrics"]["main_metric"]
    train = json.loads((cell / "train" / "train.json").read_text()) if (cell / "train" / "train.json").exists() else {}
    scores["train_s"] = train.get("wall_time_s")
    return scores


def summary(values: list[float]) -> str:
    """``mean +- std`` (sample std) of ``values``."""
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "-"
    return f"{statistics.fmean(values):.3f} +- {statistics.stdev(values):.3f}"


def run_setting(name: str, overrides: list[str], args) -> list[dict]:
    """Run (or resume) one setting's sweep; return one score dict per seed."""
    out = Path(args.out) / name
    seeds = ",".join(str(s) for s in range(args.seeds))
    cmd = [sys.executable, "-m", "harness.cli", "run", f"strategies=[{args.strategy}]", f"seeds=[{seeds}]",
           f"out={out}", f"embedded_pool.dir={args.pool}", *overrides]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    cells = sorted((out / "runs" / args.strategy).glob("budget-*/seed*"))
    return [cell_scores(c) for c in cells]


def main() -> None:
    """Parse arguments, run every setting, print one row per setting."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", required=True, help="a built embedded pool directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--strategy", default="clip_score")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--setting", action="append", required=True, help="'NAME: key=value ...'")
    args = ap.parse_args()
    print("setting | objects per seed | objects | shifts | train s per cell")
    for setting in args.setting:
        name, _, rest = setting.partition(":")
        rows = run_setting(name.strip(), shlex.split(rest), args)
        objects = [r["objects"] for r in rows]
        shifts = [statistics.fmean(r[t] for t in SHIFT_TASKS) for r in rows]
        times = [r["train_s"] for r in rows if r["train_s"] is not None]
        train_s = f"{statistics.fmean(times):.0f}" if times else "-"
        print(f"{name.strip()} | {', '.join(f'{v:.3f}' for v in objects)} | {summary(objects)} | "
              f"{summary(shifts)} | {train_s}", flush=True)


if __name__ == "__main__":
    main()
