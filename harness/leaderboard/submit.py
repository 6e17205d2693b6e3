"""``selbench submit run=DIR name=NAME``: copy what a result needs to be checked into
``<leaderboards_dir>/<scale>/submissions/<NAME>/``.

A run directory is laid out as ``selbench run`` writes it
(``<out>/runs/<strategy>/<budget>/seed<k>/``): ``subset.json`` (the subset manifest),
``train/train.json``, ``eval/eval_results.jsonl`` (each also accepted directly in the run
directory). ``command.txt`` and ``config.yaml`` are taken from the run directory, or else
from the sweep root ``<out>/`` of that layout. The subset ``.npy`` is not copied (its
sha256 is in the manifest). Incomplete suites and inconsistent files are refused.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from harness.errors import SelbenchError
from harness.io import owned_temp_dir, sha256_file, write_json_atomic
from harness.schemas import read_json

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
REQUIRED = {"eval_results.jsonl": ("eval/eval_results.jsonl", "eval_results.jsonl"),
            "train.json": ("train/train.json", "train.json"),
            "subset.json": ("subset.json",)}
OPTIONAL = ("command.txt", "config.yaml")


def main(cfg, words) -> int:
    """Submit ``cfg.run`` as ``cfg.name``; print where it went and how to rebuild; return 0."""
    if words or not cfg.get("run") or not cfg.get("name"):
        raise SelbenchError("usage: selbench submit run=DIR name=NAME [scale=...] [leaderboards_dir=DIR]")
    scale = cfg.get("scale")  # scale=NAME composes harness/conf/scale/NAME.yaml (a config group)
    dest = submit(cfg.run, str(cfg.name), scale=scale.name if scale is not None else None,
                  leaderboards_dir=cfg.get("leaderboards_dir") or "leaderboards")
    scale_dir = dest.parent.parent
    print(f"submitted {cfg.name} to {dest}")
    print(f"rebuild the tables with: selbench leaderboard results={scale_dir}/ out={scale_dir}/")
    return 0


def submit(run_dir: str | Path, name: str, scale: str | None = None,
           leaderboards_dir: str | Path = "leaderboards") -> Path:
    """Copy the run's manifest, train.json, eval_results.jsonl, command and config into
    ``<leaderboards_dir>/<scale>/submissions/<name>/`` with a ``submission.json`` listing
    the files' sha256 and the run's scores. Returns that directory.

    Raises ``SelbenchError`` when a file is missing, the suite is incomplete, the files
    disagree (checkpoint or subset sha256), the scale differs, or ``name`` is taken.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SelbenchError(f"run directory {run_dir} does not exist")
    if not NAME_RE.match(name):
        raise SelbenchError(f"submission name {name!r} may hold only letters, digits, '.', '_', '-'")
    files = locate_files(run_dir)
    run, scores = _checked_run(files, run_dir)
    if scale is not None and str(scale) != run.scale:
        raise SelbenchError(f"run {run_dir} was trained at scale {run.scale!r}, not {scale!r}")
    dest = _destination(Path(leaderboards_dir), run.scale, name)
    if dest.exists() or dest.is_symlink():
        raise SelbenchError(f"submission {dest} already exists; choose another name or remove it")
    stage = owned_temp_dir(dest.parent, f".{name}.staging.")  # a killed submit's go first
    try:
        for target, source in files.items():
            shutil.copyfile(source, stage / target)
        write_json_atomic(stage / "submission.json", _record(name, run, scores, stage, files))
        os.replace(stage, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dest


def _destination(root: Path, scale: str, name: str) -> Path:
    """``root/<scale>/submissions/<name>``, its parent created, checked to lie inside ``root``.

    ``scale`` comes from a result file: it must be one plain folder name (no ``..``, no
    separator, not absolute), and no folder below ``root`` on the way may be a symbolic link
    (one could lead anywhere). Raises ``SelbenchError`` otherwise.
    """
    for part, what in ((scale, "scale"), (name, "name")):
        if not NAME_RE.match(part) or Path(part).name != part or part in (".", ".."):
            raise SelbenchError(f"submission {what} {part!r} is not a plain folder name")
    try:
        root.mkdir(parents=True, exist_ok=True)
        current = root
        for part in (scale, "submissions"):
            current = current / part
            if current.is_symlink():
                raise SelbenchError(f"{current} is a symbolic link; selbench writes submissions "
                                    f"only into real folders under {root}")
            current.mkdir(exist_ok=True)
    except OSError as exc:
        raise SelbenchError(f"{root}/{scale}/submissions: cannot create the submission folder "
                            f"({exc.strerror or exc})") from exc
    if current.resolve() != root.resolve() / scale / "submissions":  # a link swapped in meanwhile
        raise SelbenchError(f"submission folder {current} lies outside {root}")
    return current / name


def locate_files(run_dir: Path) -> dict[str, Path]:
    """``{file name in the submission: source path}`` for the required and optional files."""
    found, missing = {}, []
    for target, candidates in REQUIRED.items():
        hit = next((run_dir / c for c in candidates if (run_dir / c).is_file()), None)
        if hit is None:
            missing.append(" or ".join(str(run_dir / c) for c in candidates))
        else:
            found[target] = hit
    if missing:
        raise SelbenchError(f"run {run_dir} is not finished: missing {'; '.join(missing)}")
    roots = [run_dir]
    parents = run_dir.resolve().parents
    if len(parents) > 3 and parents[2].name == "runs":
        roots.append(parents[3])  # <out>/runs/<strategy>/<budget>/seed<k> -> <out>
    for target in OPTIONAL:
        hit = next((root / target for root in roots if (root / target).is_file()), None)
        if hit is not None:
            found[target] = hit
    return found


def _checked_run(files: dict[str, Path], run_dir: Path):
    from harness.leaderboard.runs import load_runs, manifest_sha
    from harness.leaderboard.tables import run_table

    runs = load_runs([files["eval_results.jsonl"]])
    if len(runs) != 1:
        raise SelbenchError(f"{files['eval_results.jsonl']} holds {len(runs)} runs; submit one run")
    run = runs[0]
    row = run_table(runs).iloc[0].to_dict()
    if not row["complete"]:
        raise SelbenchError(f"run {run_dir} has an incomplete {run.suite} suite: missing "
                            f"{row['missing'].replace(';', ', ')}")
    train = read_json("train.json", files["train.json"])
    manifest = read_json("subset manifest", files["subset.json"])
    _same(train.get("checkpoint_sha256"), run.checkpoint_sha256, "checkpoint sha256",
          files["train.json"], files["eval_results.jsonl"])
    _same(train.get("subset_sha256"), run.subset_sha256, "subset sha256",
          files["train.json"], files["eval_results.jsonl"])
    _same(manifest_sha(manifest), run.subset_sha256, "subset sha256",
          files["subset.json"], files["eval_results.jsonl"])
    return run, {k: row[k] for k in ("ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval", "Average")}


def _same(a, b, what: str, file_a: Path, file_b: Path) -> None:
    if a is not None and b is not None and a != b:
        raise SelbenchError(f"{what} differs between {file_a} ({str(a)[:12]}) and {file_b} ({str(b)[:12]})")


def _record(name: str, run, scores: dict, stage: Path, files: dict[str, Path]) -> dict:
    return {"name": name, "strategy": run.strategy, "params": run.params, "budget": run.budget,
            "seed": run.seed,
            "scale": run.scale, "suite": run.suite, "subset_sha256": run.subset_sha256,
            "checkpoint_sha256": run.checkpoint_sha256, "scores": scores,
            "files": {target: sha256_file(stage / target) for target in sorted(files)}}
