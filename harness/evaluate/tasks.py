"""Evaluation suites as data: ``harness/conf/tasks/<suite>.yaml`` read into ``Task`` records."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SelbenchError

GROUPS = ("ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval")
EVALUATORS = ("classification", "retrieval", "winogavil", "iwildcam", "camelyon17", "fmow",
              "dollar_street", "geode", "fairface")
_FIELDS = ("key", "name", "main_metric", "group", "random_score", "evaluator", "dir")


@dataclass(frozen=True)
class Task:
    """One evaluation task: its clip_benchmark key, display name, scoring and data directory."""

    key: str
    name: str
    main_metric: str | None
    group: str | None
    random_score: float | None
    evaluator: str
    dir: str
    suite: str
    size: int | None = None
    num_classes: int | None = None
    hub: str | None = None
    hub_format: str | None = None

    @property
    def scored(self) -> bool:
        """Whether the task has a main metric (counts in the Average)."""
        return self.main_metric is not None

    def data_dir(self, data_root: str | Path) -> Path:
        """The task's directory under ``data_root``."""
        return Path(data_root) / self.dir


def suite_names() -> list[str]:
    """Names of the suites under ``harness/conf/tasks``."""
    from harness.config import conf_dir

    return sorted(p.stem for p in (conf_dir() / "tasks").glob("*.yaml"))


def suite_path(name: str) -> Path:
    """The YAML file of suite ``name``; an unknown name is a one-line error."""
    from harness.config import conf_dir

    path = conf_dir() / "tasks" / f"{name}.yaml"
    if not path.is_file():
        known = suite_names()
        close = difflib.get_close_matches(str(name), known, n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise SelbenchError(f"unknown suite {name!r}{hint} (known: {', '.join(known)})")
    return path


def load_suite(name: str) -> list[Task]:
    """Read suite ``name`` (``harness/conf/tasks/<name>.yaml``) into its list of ``Task`` records."""
    from omegaconf import OmegaConf

    path = suite_path(name)
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    rows = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise SelbenchError(f"{path}: expected a non-empty `tasks:` list")
    tasks = [_task(path, i, row, name) for i, row in enumerate(rows)]
    keys = [t.key for t in tasks]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise SelbenchError(f"{path}: duplicate task keys {', '.join(dup)}")
    return tasks


def _task(path: Path, index: int, row, suite: str) -> Task:
    if not isinstance(row, dict):
        raise SelbenchError(f"{path}: task #{index} is not a mapping")
    missing = [f for f in _FIELDS if f not in row]
    if missing:
        raise SelbenchError(f"{path}: task #{index} ({row.get('key', '?')}) lacks {', '.join(missing)}")
    if row["group"] is not None and row["group"] not in GROUPS:
        raise SelbenchError(f"{path}: task {row['key']}: unknown group {row['group']!r}")
    if row["evaluator"] not in EVALUATORS:
        raise SelbenchError(f"{path}: task {row['key']}: unknown evaluator {row['evaluator']!r}")
    if row["group"] is not None and row["main_metric"] is None:
        raise SelbenchError(f"{path}: task {row['key']}: a grouped task needs a main_metric")
    return Task(key=str(row["key"]), name=str(row["name"]), main_metric=row["main_metric"],
                group=row["group"],
                random_score=None if row["random_score"] is None else float(row["random_score"]),
                evaluator=row["evaluator"], dir=str(row["dir"]), suite=suite,
                size=row.get("size"), num_classes=row.get("num_classes"),
                hub=row.get("hub"), hub_format=row.get("hub_format"))


def select_tasks(suite: list[Task], keys=None) -> list[Task]:
    """The tasks of ``suite`` named in ``keys`` (all when None), in suite order.

    An unknown key is a one-line error naming the closest known keys.
    """
    if keys is None:
        return list(suite)
    by_key = {t.key: t for t in suite}
    for key in keys:
        if key not in by_key:
            close = difflib.get_close_matches(str(key), by_key, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SelbenchError(f"unknown task {key!r} in suite {suite[0].suite!r}{hint}")
    wanted = set(keys)
    return [t for t in suite if t.key in wanted]


def as_key_list(value, name: str = "only") -> list[str] | None:
    """An ``only=`` override as a list of keys (None when unset); a bare string is one key."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in value]
    except TypeError as exc:
        raise SelbenchError(f"{name}= must be a list of task keys") from exc


def task_rows(suite: str) -> list[dict]:
    """``selbench ls tasks`` rows: key, name, main_metric, group, random_score, scored."""
    return [{"key": t.key, "name": t.name, "main_metric": t.main_metric, "group": t.group,
             "random_score": t.random_score, "scored": t.scored} for t in load_suite(suite)]
