"""``eval_results.jsonl``: DataComp's line format plus the run identity on every line.

One JSON object per task, appended (flushed and fsynced) as each task finishes::

    {"key": "vtab/cifar100", "dataset": "CIFAR-100",
     "metrics": {"acc1": ..., "acc5": ..., "mean_per_class_recall": ..., "main_metric": ...},
     "run": {"strategy", ["variant",] "params", "budget", "seed", "scale", "model", "suite",
             "subset_sha256", "checkpoint_sha256"}}
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from harness.errors import SelbenchError
from harness.io import sha256_file
from harness.schemas import SchemaError, read_json, stamp, validate

RESULTS_FILE = "eval_results.jsonl"
RUN_FIELDS = ("strategy", "variant", "params", "budget", "seed", "scale", "model", "suite",
              "subset_sha256", "checkpoint_sha256")


def read_train_info(checkpoint: Path) -> dict | None:
    """``train.json`` beside ``checkpoint`` as a dict, or None when there is none."""
    path = Path(checkpoint).parent / "train.json"
    if not path.is_file():
        return None
    return read_json("train.json", path)


def run_identity(checkpoint: Path, suite: str, model: str, info: dict | None) -> dict:
    """The ``run`` object of every result line: selection, scale, suite and hashes.

    Fields come from ``info`` (train.json); without it they are None, except ``suite``,
    ``model`` and ``checkpoint_sha256`` (hashed from the file). A train.json whose
    checkpoint_sha256 disagrees with the file is an error.
    """
    sha = sha256_file(checkpoint)
    info = info or {}
    recorded = info.get("checkpoint_sha256")
    if recorded and recorded != sha:
        raise SelbenchError(f"checkpoint {checkpoint} does not match the checkpoint_sha256 "
                            f"recorded in {Path(checkpoint).parent / 'train.json'}")
    selection = info.get("selection") or {}
    variant = {"variant": selection["variant"]} if selection.get("variant") else {}
    return {"strategy": selection.get("strategy"), **variant, "params": selection.get("params"),
            "budget": selection.get("budget"),
            "seed": selection.get("seed", info.get("seed")),
            "scale": info.get("scale"), "model": model, "suite": suite,
            "subset_sha256": info.get("subset_sha256"), "checkpoint_sha256": sha}


def result_line(task, metrics: dict, run: dict) -> dict:
    """A result line for ``task``: metrics plus ``main_metric`` (None for unscored tasks).

    Values become plain JSON numbers; NaN becomes None (strict JSON has no NaN).
    """
    metrics = {str(k): _number(v) for k, v in metrics.items()}
    if task.main_metric and task.main_metric not in metrics:
        raise SelbenchError(f"task {task.key}: its evaluator gave no {task.main_metric!r} "
                            f"(got {', '.join(sorted(metrics))})")
    metrics["main_metric"] = metrics.get(task.main_metric) if task.main_metric else None
    return stamp("eval_results.jsonl line",
                 {"key": task.key, "dataset": task.name, "metrics": metrics, "run": run})


def _number(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    value = float(value)
    return None if math.isnan(value) else value


def append_result(path: Path, line: dict) -> None:
    """Append one JSON line to ``path`` and make it durable (flush + fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


# Every task's main metric (acc1, mean_per_class_recall, mean_recall@1, worst-group or
# worst-region accuracy, F1-macro, Jaccard score) is a fraction: a value outside [0, 1]
# (NaN and infinities included) is a corrupt or forged result and must not rank.
MAIN_METRIC_RANGE = (0.0, 1.0)


def read_results(path: str | os.PathLike) -> list[dict]:
    """Read and validate a results file; return its lines as dicts.

    Each line must be a JSON object with a string ``key`` and ``dataset`` and a ``metrics``
    object holding ``main_metric`` (null, or a number in ``MAIN_METRIC_RANGE``); ``run``
    (when present) must be an object. The file must be UTF-8. All lines must come from one
    suite. Any violation is a one-line error naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise SelbenchError(f"results file {path} not found")
    try:
        content = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SelbenchError(f"{path}: not a UTF-8 results file (byte {exc.start})") from exc
    lines = []
    for number, text in enumerate(content.splitlines(), start=1):
        if text.strip():
            lines.append(_parse_line(path, number, text))
    suites = {ln["run"].get("suite") for ln in lines if isinstance(ln.get("run"), dict)}
    suites.discard(None)
    if len(suites) > 1:
        raise SelbenchError(f"{path}: results from several suites mixed ({', '.join(sorted(suites))})")
    return lines


def _parse_line(path: Path, number: int, text: str) -> dict:
    where = f"{path}:{number}"
    try:
        line = json.loads(text)
    except ValueError as exc:
        raise SelbenchError(f"{where}: corrupt results line ({exc.__class__.__name__}: {exc})") from exc
    try:
        line = validate("eval_results.jsonl line", line, where)
    except SchemaError as exc:
        raise SelbenchError(f"{where}: corrupt results line ({exc.detail})") from exc
    mm = line["metrics"]["main_metric"]
    if mm is not None and not (MAIN_METRIC_RANGE[0] <= mm <= MAIN_METRIC_RANGE[1]):
        raise SelbenchError(f"{where}: main_metric {mm!r} of {line['key']!r} is outside "
                            f"[{MAIN_METRIC_RANGE[0]:g}, {MAIN_METRIC_RANGE[1]:g}] (or not finite)")
    return line


def drop_torn_tail(path: Path) -> bool:
    """Remove a final line left half-written by a killed run (no newline, not JSON).

    Returns True when something was removed. Complete lines are never touched.
    """
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    head, _, tail = data.rpartition(b"\n")
    try:
        json.loads(tail)
    except ValueError:
        pass
    else:  # complete but unterminated: terminate it so the next line starts afresh
        with open(path, "ab") as f:
            f.write(b"\n")
        return False
    from harness.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(head + b"\n" if head else b"")
    return True


def finished_tasks(path: Path, suite: str, checkpoint_sha256: str, known_keys) -> dict:
    """``{key: line}`` already in ``path`` for this checkpoint (to skip on rerun).

    Lines of another suite, of unknown task keys, or of another checkpoint are errors: an
    output directory holds the results of one checkpoint on one suite.
    """
    if not path.is_file():
        return {}
    done = {}
    for line in read_results(path):
        run = line.get("run") or {}
        if run.get("suite") != suite or line["key"] not in known_keys:
            raise SelbenchError(f"{path}: holds results of suite {run.get('suite')!r} "
                                f"(task {line['key']!r}), not {suite!r}; use another out=")
        if run.get("checkpoint_sha256") != checkpoint_sha256:
            raise SelbenchError(f"{path}: holds results of another checkpoint "
                                f"(sha256 {str(run.get('checkpoint_sha256'))[:12]}...); use another out=")
        done[line["key"]] = line
    return done
