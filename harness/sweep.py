"""Sweeps as cluster jobs: list the cells of ``selbench run``, run one by index, report status.

``selbench plan`` (or ``selbench run plan=true``) prints the cells of the sweep with their
index, state and directory; ``selbench run cell=I`` runs cell ``I`` alone (one task of a
Slurm array: ``cell=$SLURM_ARRAY_TASK_ID``; see ``tools/slurm_sweep_example.sh``);
``selbench status`` prints every cell's state and builds the leaderboard of the finished
ones. Cells are the same as the serial ``selbench run``'s (``harness.run.plan``) and write
to the same directories, so serial and array runs mix and resume each other.

A cell's state: ``done`` (every task of the suite has a result line), ``evaluating``
(some), ``trained`` (``train/train.json``), ``selected`` (``subset.json``), ``pending``.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from omegaconf import OmegaConf

from harness.errors import SelbenchError
from harness.io import write_text_atomic

STATES = ("pending", "selected", "trained", "evaluating", "done")


def run_command(cfg, words) -> int:
    """``selbench run``: ``plan=true`` lists the cells, ``cell=I`` runs one, else the whole sweep."""
    if cfg.get("plan"):
        return plan_main(cfg, words)
    if cfg.get("cell") is not None:
        return cell_main(cfg, words)
    from harness.run import main

    return main(cfg, words)


def _check(cfg, words, command: str) -> None:
    if words:
        raise SelbenchError(f"{command} takes only key=value overrides, got {' '.join(words)}")
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise SelbenchError(f"{command}: give a value for {', '.join(missing)} (e.g. {missing[0]}=...)")


def cell_state(cell: Path, suite_keys: set[str], suite: str) -> str:
    """One of ``STATES`` for the cell directory ``cell`` (see the module docstring)."""
    from harness.evaluate.results import read_results

    results = cell / "eval" / "eval_results.jsonl"
    if results.is_file():
        try:
            keys = {line["key"] for line in read_results(results)
                    if (line.get("run") or {}).get("suite") == suite}
        except SelbenchError:
            keys = set()
        if keys and suite_keys <= keys:
            return "done"
        if keys:
            return "evaluating"
    if (cell / "train" / "train.json").is_file():
        return "trained"
    if (cell / "subset.json").is_file() and (cell / "subset.npy").is_file():
        return "selected"
    return "pending"


def cell_rows(cfg) -> list[dict]:
    """One dict per cell of the sweep: ``cell`` index, ``state``, ``label``, ``dir``."""
    from harness.evaluate.tasks import load_suite
    from harness.run import plan

    out = Path(cfg.out)
    keys = {t.key for t in load_suite(cfg.suite)}
    return [{"cell": i, "state": cell_state(spec.directory(out), keys, cfg.suite),
             "label": spec.label, "dir": str(spec.directory(out))}
            for i, spec in enumerate(plan(cfg))]


def print_cells(cfg) -> list[dict]:
    """Print ``cell_rows(cfg)`` as a text table, or as JSON with ``format=json``; return the rows."""
    from harness.listing import format_rows

    rows = cell_rows(cfg)
    print(json.dumps(rows, indent=2) if cfg.get("format", "text") == "json" else format_rows(rows))
    return rows


def plan_main(cfg, words) -> int:
    """``selbench plan``: print the cells (text table or ``format=json``); return 0."""
    _check(cfg, words, "plan")
    rows = print_cells(cfg)
    if cfg.get("format", "text") != "json":
        print(f"{len(rows)} cells; run one with: selbench run cell=I (same overrides)")
    return 0


def cell_main(cfg, words) -> int:
    """``selbench run cell=I``: select, train and evaluate cell ``I`` only; return 0."""
    _check(cfg, words, "run")
    run_cell(cfg, cfg.cell, "selbench " + " ".join(map(shlex.quote, sys.argv[1:])))
    return 0


def run_cell(cfg, raw, command: str) -> None:
    """Select, train and evaluate cell ``raw`` (an index, checked) of the sweep ``cfg``;
    ``command`` (the command line that runs it alone) goes to its ``command.txt``."""
    from harness.evaluate.datasets import check_present
    from harness.evaluate.tasks import load_suite
    from harness.run import plan, resolve_data_root, resolve_pool, run_one

    specs = plan(cfg)
    try:
        index = int(raw)
        if isinstance(raw, bool) or str(index) != str(raw).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise SelbenchError(f"cell={raw!r} must be a whole number (0..{len(specs) - 1})") from None
    if not 0 <= index < len(specs):
        raise SelbenchError(f"cell={index} is outside 0..{len(specs) - 1} (the sweep has "
                            f"{len(specs)} cells; see `selbench plan`)")
    spec = specs[index]
    out = Path(cfg.out)
    pool = resolve_pool(cfg)
    data_root = resolve_data_root(cfg, pool)
    check_present(load_suite(cfg.suite), data_root, bool(cfg.allow_missing))
    cell = spec.directory(out)
    cell.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cell / "command.txt", command + "\n")
    print(f"== cell {index}: {spec.label}")
    results = run_one(spec, cfg, pool, data_root, out)
    print(f"cell {index} finished: {results}")


def status_main(cfg, words) -> int:
    """``selbench status``: each cell's state, then the leaderboard of the finished cells; return 0."""
    _check(cfg, words, "status")
    report_status(cfg)
    return 0


def finished(row: dict, allow_missing) -> bool:
    """Whether a ``cell_rows`` row is finished: ``done``, or ``evaluating`` under ``allow_missing``."""
    return row["state"] == "done" or (bool(allow_missing) and row["state"] == "evaluating")


def report_status(cfg) -> list[dict]:
    """Print each cell's state, then build and print the leaderboard of the finished cells;
    return the rows (``cell_rows``)."""
    from harness.leaderboard.build import build_leaderboard, format_text_table

    rows = print_cells(cfg)
    done = [r for r in rows if finished(r, cfg.allow_missing)]
    print(f"{len(done)} of {len(rows)} cells finished")
    if done:
        out = Path(cfg.out) / "leaderboard"
        board = build_leaderboard([Path(r["dir"]) / "eval" / "eval_results.jsonl" for r in done], out)
        print(format_text_table(board))
        print(f"leaderboard of the {len(done)} finished cells written to {out}")
    return rows
