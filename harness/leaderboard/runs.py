"""Collect runs from ``eval_results.jsonl`` files: one ``Run`` per (strategy, budget, seed,
scale, suite), with its tasks' main metrics and, when found, its selection manifest.

Result lines are read with ``harness.evaluate.results.read_results`` (which rejects corrupt
lines); each line carries a ``run`` object naming the run it belongs to.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from harness.errors import SelbenchError

RESULTS_NAME = "eval_results.jsonl"
MANIFEST_NAME = "subset.json"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


@dataclass
class Run:
    """One trained and evaluated model: identity, task scores, where they came from."""

    strategy: str
    budget: str
    seed: int | str
    scale: str
    suite: str
    checkpoint_sha256: str | None
    subset_sha256: str | None
    budget_value: tuple[str, float] | None = None  # ("fraction", 0.3) for plots
    metrics: dict[str, float] = field(default_factory=dict)  # task key -> main metric
    task_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # key -> every finite number
    files: list[str] = field(default_factory=list)
    manifest: dict | None = None
    manifest_path: str | None = None
    params: dict = field(default_factory=dict)

    @property
    def identity(self) -> tuple:
        """The row key: (strategy, budget, seed, scale, suite)."""
        return (self.strategy, self.budget, str(self.seed), self.scale, self.suite)

    def label(self) -> str:
        """A short human-readable name for error messages."""
        return f"{self.strategy} budget={self.budget} seed={self.seed} scale={self.scale}"


def find_result_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand ``paths``: files stay, directories are scanned recursively for
    ``eval_results.jsonl`` (hidden directories skipped). Returns sorted, de-duplicated paths.
    """
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            hits = [p for p in path.rglob(RESULTS_NAME)
                    if not any(part.startswith(".") for part in p.relative_to(path).parts)]
            if not hits:
                raise SelbenchError(f"no {RESULTS_NAME} found under {path}")
            found.extend(hits)
        elif path.is_file():
            found.append(path)
        else:
            raise SelbenchError(f"results file {path} does not exist")
    unique = sorted({p.resolve(): p for p in found}.items())
    return [p for _, p in unique]


def budget_label(budget) -> tuple[str, tuple[str, float] | None]:
    """Turn a result line's budget into (label, (kind, value) or None) for tables and plots.

    Accepts a dict like ``{"fraction": 0.3}`` / ``{"count": 1000}`` /
    ``{"threshold": 0.25}`` / ``{"natural": true}``, a number (fraction if <= 1, else a
    count), a string, or None (no selection).
    """
    if budget is None or budget == {}:
        return "none", None
    if isinstance(budget, dict):
        if budget.get("fraction") is not None:
            value = float(budget["fraction"])
            return f"{value:.4g}", ("fraction", value)
        if budget.get("count") is not None:
            value = int(budget["count"])
            return f"n={value}", ("count", float(value))
        if budget.get("threshold") is not None:
            return f"score>={float(budget['threshold']):.4g}", None
        if budget.get("natural"):
            return "natural", None
        return ",".join(f"{k}={v}" for k, v in sorted(budget.items())), None
    if isinstance(budget, bool):
        return str(budget), None
    if isinstance(budget, (int, float)):
        if 0 < budget <= 1:
            return f"{float(budget):.4g}", ("fraction", float(budget))
        return f"n={int(budget)}", ("count", float(budget))
    return str(budget), None


def load_runs(result_files: Iterable[str | Path], manifests: Iterable[str | Path] = ()) -> list[Run]:
    """Read result files into runs, sorted by identity.

    Raises ``SelbenchError`` on a line without a usable ``run`` object, on runs from more
    than one suite, and on one identity with two different checkpoints or conflicting
    scores for a task. Manifests come from ``manifests`` (matched by the subset sha256) or
    from the run directory layout (``subset.json`` beside or one level above the results).
    """
    from harness.evaluate.results import read_results

    runs: dict[tuple, Run] = {}
    for path in result_files:
        path = Path(path)
        for number, line in enumerate(read_results(path), 1):
            _add_line(runs, line, path, number)
    if not runs:
        raise SelbenchError("no results to build a leaderboard from")
    runs = _by_identity(list(runs.values()))
    suites = sorted({r.suite for r in runs.values()})
    if len(suites) > 1:
        examples = {r.suite: r.files[0] for r in runs.values()}
        detail = ", ".join(f"{s} ({examples[s]})" for s in suites)
        raise SelbenchError(f"results from several suites cannot share a leaderboard: {detail}")
    attach_manifests(list(runs.values()), manifests)
    return [runs[k] for k in sorted(runs, key=_sort_key)]


SKIPPED_ENGLISH = " [English check skipped]"


def mark_skipped_english(runs: list[Run]) -> None:
    """Append ``[English check skipped]`` to the name of runs selected with
    ``strategy.english=skip`` (DataComp's filters), on every leaderboard."""
    for run in runs:
        if run.params.get("english") == "skip" and not run.strategy.endswith(SKIPPED_ENGLISH):
            run.strategy += SKIPPED_ENGLISH


def _by_identity(runs: list[Run]) -> dict[tuple, Run]:
    """Key runs by their row identity once parameter sets are part of the strategy label."""
    label_params(runs)
    mark_skipped_english(runs)
    out: dict[tuple, Run] = {}
    for run in runs:
        if run.identity in out:  # parameters that print alike (1 and "1")
            raise SelbenchError(f"two runs are both {run.label()} ({run.files[0]}, "
                                f"{out[run.identity].files[0]})")
        out[run.identity] = run
    return out


def _add_line(runs: dict, line: dict, path: Path, number: int) -> None:
    where = f"{path} (result {number})"
    info = line.get("run")
    if not isinstance(info, dict) or info.get("suite") in (None, ""):
        raise SelbenchError(f"{where}: no 'run' object naming its suite (a results line of "
                            "`selbench evaluate` carries strategy, budget, seed, scale, suite)")
    for field in ("strategy", "seed", "scale", "suite"):
        _check_name(info.get(field), field, where)
    label, value = budget_label(info.get("budget"))
    # a named variant is shown under its name; a plain strategy under the strategy's
    run = Run(strategy=_text(info.get("variant") or info.get("strategy"), "none"), budget=label,
              seed=_text(info.get("seed"), "none") if not isinstance(info.get("seed"), int) else info["seed"],
              scale=_text(info.get("scale"), "unknown"), suite=str(info["suite"]),
              checkpoint_sha256=info.get("checkpoint_sha256"),
              subset_sha256=info.get("subset_sha256"), budget_value=value,
              params=info.get("params") if isinstance(info.get("params"), dict) else {})
    run = runs.setdefault((*run.identity, _params_key(run.params)), run)
    if info.get("checkpoint_sha256") != run.checkpoint_sha256:
        raise SelbenchError(f"{where}: {run.label()} also comes from another checkpoint "
                            f"(in {run.files[0]}); keep one of them")
    if str(path) not in run.files:
        run.files.append(str(path))
    metric = _main_metric(line, where)
    if metric is None:  # unscored task (FairFace, UTKFace): no main metric
        return
    key = str(line["key"])
    if key in run.metrics and not _same(run.metrics[key], metric):
        raise SelbenchError(f"{where}: task {key!r} of {run.label()} has two different scores")
    run.metrics[key] = metric
    run.task_metrics[key] = {str(k): float(v) for k, v in line["metrics"].items()
                             if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _sort_key(identity: tuple) -> tuple:
    seed = identity[2]
    numeric = (0, int(seed), "") if seed.lstrip("-").isdigit() else (1, 0, seed)
    return (identity[0], identity[1], numeric, *identity[3:])


def _check_name(value, field: str, where: str) -> None:
    """A run's strategy, seed, scale or suite: absent, an integer seed, or a plain name.

    These become table cells and, for the scale, a folder (``submit``): a name is letters,
    digits, '.', '_', '+', '-' (at most 100), starting with a letter or digit, so that no
    result file can name a path (``..``, ``/``) or break a table row.
    """
    if value in (None, "") or (field == "seed" and isinstance(value, int) and not isinstance(value, bool)):
        return
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise SelbenchError(f"{where}: run {field} {str(value)[:60]!r} is not a valid name "
                            "(letters, digits, '.', '_', '+', '-')")


def _text(value, default: str) -> str:
    return default if value in (None, "") else str(value)


def _params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def label_params(runs: list[Run]) -> None:
    """Where one strategy ran with several parameter sets, append the parameters that
    differ to its name (``s_cliploss(batch_size=4096)``) so their rows stay apart."""
    by_strategy: dict[str, list[Run]] = {}
    for run in runs:
        by_strategy.setdefault(run.strategy, []).append(run)
    for group in by_strategy.values():
        if len({_params_key(r.params) for r in group}) < 2:
            continue
        keys = sorted({k for r in group for k in r.params})
        differing = [k for k in keys if len({_params_key({k: r.params.get(k)}) for r in group}) > 1]
        for run in group:
            shown = ",".join(f"{k}={run.params.get(k)}" for k in differing)
            run.strategy = f"{run.strategy}({shown})"


def _main_metric(line: dict, where: str) -> float | None:
    metrics = line.get("metrics")
    if "key" not in line or not isinstance(metrics, dict) or "main_metric" not in metrics:
        raise SelbenchError(f"{where}: a result line needs 'key' and metrics.main_metric")
    value = metrics["main_metric"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise SelbenchError(f"{where}: main_metric of {line['key']!r} is not a number: {value!r}")
    return float(value)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-12)


def attach_manifests(runs: list[Run], manifests: Iterable[str | Path] = ()) -> None:
    """Set ``run.manifest`` from explicit manifest files (matched by subset sha256) or from
    ``subset.json`` beside the results file or one directory above it (run layout
    ``<out>/runs/<strategy>/<budget>/seed<k>/{subset.json, eval/eval_results.jsonl}``;
    submissions keep ``subset.json`` beside ``eval_results.jsonl``). A manifest whose
    recorded sha256 differs from the run's subset sha256 is not used.
    """
    by_sha = {}
    for path in manifests:
        manifest = _read_manifest(Path(path))
        sha = manifest_sha(manifest)
        if sha is None:
            raise SelbenchError(f"manifest {path} records no subset sha256")
        by_sha[sha] = (manifest, str(path))
    for run in runs:
        if run.subset_sha256 in by_sha:
            run.manifest, run.manifest_path = by_sha[run.subset_sha256]
            continue
        for results in run.files:
            found = _manifest_near(Path(results), run.subset_sha256)
            if found:
                run.manifest, run.manifest_path = found
                break


def manifest_sha(manifest: dict) -> str | None:
    """The subset ``.npy`` sha256 a manifest records (read through ``harness.schemas``,
    which maps earlier names to ``subset_sha256``), or None."""
    value = manifest.get("subset_sha256")
    return value if isinstance(value, str) else None


def _manifest_near(results: Path, subset_sha: str | None):
    for directory in (results.parent, results.parent.parent):
        path = directory / MANIFEST_NAME
        if not path.is_file():
            continue
        manifest = _read_manifest(path)
        sha = manifest_sha(manifest)
        if sha is None or subset_sha is None or sha == subset_sha:
            return manifest, str(path)
    return None


def _read_manifest(path: Path) -> dict:
    from harness.schemas import read_json

    return read_json("subset manifest", path)
