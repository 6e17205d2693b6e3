"""``selbench run -m``: the cells of a sweep as a Hydra multirun, one job per ``cell=I``.

Hydra's multirun maps one task function over override values; here the task is one cell
of ``selbench run`` (the same cell ``selbench run cell=I`` runs) and the swept value is
``cell``, by default ``cell=range(0,N)`` over every cell of the sweep. Any Hydra launcher
runs the jobs: the basic one (in this process, one cell after the other), or
``hydra/launcher=submitit_slurm`` (one Slurm job per cell; ``pip install 'selbench[slurm]'``),
or ``submitit_local`` (one local process per cell). The launching process builds or finds
the pool first, waits for the jobs, then prints every cell's state and writes the
leaderboard of the finished ones (``selbench status``).

The sweep's own dimensions (strategies, budgets, seeds) are lists in the config, so only
``cell`` may take a sweep value (``cell=range(2,6)``, ``cell=0,3``); ``hydra.*`` overrides
configure the launcher. Hydra's files for each job go to ``<out>/multirun/<time>/cell<I>``.
"""
from __future__ import annotations

import logging
import shlex
import sys
from typing import Sequence

from harness.errors import SelbenchError

CONFIG = "multirun"  # harness/conf/multirun.yaml: run.yaml plus Hydra's job settings


def task(cfg) -> int:
    """Hydra's task function: run cell ``cfg.cell``; return 0, or 2 after a one-line error.

    A failed cell does not stop the others (as in a Slurm array); the launching process
    reports which cells did not finish.
    """
    from hydra.core.hydra_config import HydraConfig

    from harness.sweep import run_cell

    given = [o for o in HydraConfig.get().overrides.task if not o.startswith(("hydra.", "hydra/"))]
    command = "selbench run " + " ".join(map(shlex.quote, given))
    try:
        run_cell(cfg, cfg.cell, command)
    except SelbenchError as exc:
        print(f"selbench: error: cell {cfg.cell}: {exc}", file=sys.stderr)
        return 2
    return 0


def _hydra_entry():
    """``task`` under ``@hydra.main`` (built on use: importing this module starts nothing)."""
    import hydra

    from harness.config import conf_dir

    return hydra.main(config_path=str(conf_dir()), config_name=CONFIG, version_base=None)(task)


def split_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str], str | None]:
    """``(hydra overrides, run overrides, the cell override or None)``; sweeps other than
    ``cell`` and arguments Hydra cannot parse are a ``SelbenchError``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    hydra_side, run_side, cell = [], [], None
    parser = OverridesParser.create()
    for text in overrides:
        try:
            (parsed,) = parser.parse_overrides([text])
        except HydraException as exc:
            raise SelbenchError(f"run -m: cannot parse {text!r}: {' '.join(str(exc).split())}") from None
        key = parsed.get_key_element().lstrip("+~")
        if parsed.is_hydra_override():
            hydra_side.append(text)
        elif key == "cell":
            cell = text
        elif parsed.is_sweep_override():
            raise SelbenchError(f"run -m sweeps the cells only (cell=...); {text!r} is a sweep: "
                                "give strategies, budgets and seeds as lists (see `selbench plan`)")
        else:
            run_side.append(text)
    return hydra_side, run_side, cell


def requested_cells(cell: str, count: int) -> list[int]:
    """The cell indices the ``cell=...`` override names (a value, a list or a range sweep)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    (parsed,) = OverridesParser.create().parse_overrides([cell])
    values = list(parsed.sweep_string_iterator()) if parsed.is_sweep_override() else [
        parsed.get_value_element_as_str()]
    out = []
    for value in values:
        try:
            index = int(value)
        except ValueError:
            raise SelbenchError(f"{cell}: {value!r} is not a whole number") from None
        if not 0 <= index < count:
            raise SelbenchError(f"{cell}: cell {index} is outside 0..{count - 1} (the sweep has "
                                f"{count} cells; see `selbench plan`)")
        out.append(index)
    return out


def main(overrides: Sequence[str]) -> int:
    """``selbench run -m [overrides]``: every requested cell as a job of Hydra's launcher,
    then the status table and the finished cells' leaderboard. Returns 0 when every requested
    cell is done; raises ``SelbenchError`` naming the cells that are not."""
    from omegaconf import OmegaConf

    from harness.config import compose, rewrite_overrides
    from harness.evaluate.datasets import check_present
    from harness.evaluate.tasks import load_suite
    from harness.run import plan, resolve_data_root, resolve_pool
    from harness.sweep import finished, report_status

    hydra_side, run_side, cell = split_overrides(rewrite_overrides(overrides))
    cfg = compose("run", run_side)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise SelbenchError(f"run: give a value for {', '.join(missing)} (e.g. {missing[0]}=...)")
    if cfg.get("plan"):
        raise SelbenchError("run -m runs cells; list them with `selbench plan`")
    count = len(plan(cfg))
    cell = cell or f"cell=range(0,{count})"
    cells = requested_cells(cell, count)
    # once, here: concurrent jobs must not each build the embedded pool
    pool = resolve_pool(cfg)
    check_present(load_suite(cfg.suite), resolve_data_root(cfg, pool), bool(cfg.allow_missing))
    saved, root = sys.argv, logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sys.argv = ["selbench run", "--multirun", *run_side, cell, *hydra_side]
    try:
        _hydra_entry()()
    except SystemExit as exc:  # Hydra reports its own errors and exits
        if exc.code:
            raise SelbenchError(f"run -m: Hydra stopped with status {exc.code} (its message is above)") from None
    finally:
        sys.argv = saved
        for handler in [h for h in root.handlers if h not in handlers]:  # Hydra's job logging
            root.removeHandler(handler)
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    rows = {r["cell"]: r for r in report_status(cfg)}
    unfinished = [i for i in cells if not finished(rows[i], cfg.allow_missing)]
    if unfinished:
        raise SelbenchError(f"run -m: {len(unfinished)} of {len(cells)} cells did not finish "
                            f"({', '.join(map(str, unfinished))}); their errors are above or in "
                            f"{cfg.out}/multirun/; rerun the same command to resume them")
    return 0
