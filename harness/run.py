"""The main job, ``selbench run``: select, train and evaluate every (strategy, budget, seed)
of a sweep, then build the leaderboard. Each finished step is skipped on rerun, so a killed
run resumes where it stopped.

Layout under ``out``::

    runs/<strategy or variant>[-<params hash>]/budget-<b>/seed<k>/subset.npy, subset.json, train/, eval/eval_results.jsonl
    leaderboard/leaderboard.{csv,md,html}, plots/
    command.txt, config.yaml (written once the pool and evaluation sets are found)
    .selbench.lock (held while a process works in ``out``; a second ``run`` there is refused)
"""
from __future__ import annotations

import hashlib
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from harness.config import integer, to_plain
from harness.errors import SelbenchError
from harness.io import remove_stale_temps, write_text_atomic
from harness.lock import folder_lock, remove_created_folder
from harness.select.budget import NATURAL, OLD_NATURAL, Budget, budget_from_label, budget_label


@dataclass(frozen=True)
class RunSpec:
    """One cell of the sweep: a strategy (or a named variant of one) at a budget with a seed."""

    strategy: str  # the registered strategy
    budget: str  # "natural", a fraction like "0.3", or a count like "5000"
    seed: int
    params: str = "{}"  # the strategy's parameter overrides, as sorted JSON
    variant: str | None = None  # the variant's name (shown on the leaderboard), if one

    @property
    def name(self) -> str:
        """What the sweep calls this cell's method: the variant name, else the strategy."""
        return self.variant or self.strategy

    @property
    def label(self) -> str:
        extra = "" if self.params == "{}" else f" {self.params}"
        return f"{self.name}{extra} @ {self.budget} seed {self.seed}"

    def directory(self, out: Path) -> Path:
        """``out/runs/<strategy>[-<params hash>]/budget-<b>/seed<k>``: other parameters, other cell.

        A run folder written before the own size was called ``natural`` (``budget-none``)
        is found and reused.
        """
        name = self.name
        if self.params != "{}":
            name += "-" + hashlib.sha256(self.params.encode()).hexdigest()[:8]
        cell = out / "runs" / name / f"budget-{self.budget}" / f"seed{self.seed}"
        if self.budget == NATURAL and not cell.exists():
            for old in OLD_NATURAL:
                legacy = cell.parent.parent / f"budget-{old}" / cell.name
                if legacy.exists():
                    return legacy
        return cell


def make_budget(label: str) -> Budget:
    """Turn ``natural``, a fraction (<= 1) or a count (> 1) into a ``Budget``
    (``harness.select.budget.budget_from_label``: refused exactly as ``select`` refuses it)."""
    return budget_from_label(label)


def plan(cfg) -> list[RunSpec]:
    """The sweep's cells, in order: strategies x budgets x seeds; a name in ``strategy_budget``
    runs at its own budget(s) instead (one value or a list).

    A name in ``strategies`` is a registered strategy or a named variant (``variants:`` in
    the config, else ``harness/conf/variant/<name>.yaml``). A variant's parameters are its
    strategy's ``strategy_params``, then the variant's own, then ``strategy_params.<variant>``;
    ``strategy_budget`` is looked up by the variant's name, then its strategy's.
    """
    from harness.train.scales import check_scale

    if not cfg.strategies:
        raise SelbenchError("run: strategies is empty")
    check_scale(to_plain(cfg.scale))  # another YAML composed as the scale is refused here
    own = {k: [budget_label(b) for b in _as_list(v)] for k, v in (cfg.strategy_budget or {}).items()}
    budgets = [budget_label(b) for b in cfg.budgets]
    for label in [*budgets, *(b for labels in own.values() for b in labels)]:
        budget_from_label(label)  # every label checked before any work starts
    specs = []
    for name in map(str, cfg.strategies):
        strategy, variant, params = _method(name, cfg)
        text = json.dumps(params, sort_keys=True)
        key = name if name in own else strategy
        for budget in (own[key] if key in own else budgets):
            for seed in cfg.seeds:
                specs.append(RunSpec(strategy, budget, integer(seed, "seeds"), text, variant))
    return specs


def _method(name: str, cfg) -> tuple[str, str | None, dict]:
    """(registered strategy, variant name or None, parameter overrides) for a sweep name."""
    from harness.select.base import STRATEGIES
    from harness.select.variants import resolve_variant, variant_names

    given = dict(to_plain(cfg.strategy_params) or {}) if cfg.get("strategy_params") else {}
    inline = to_plain(cfg.variants) if cfg.get("variants") else {}
    variant = resolve_variant(name, inline)
    if variant is None:
        if name not in STRATEGIES:
            import difflib

            known = STRATEGIES.names() + variant_names(inline)
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SelbenchError(f"run: {name!r} is neither a strategy nor a variant{hint} "
                                "(see `selbench ls strategies` and harness/conf/variant/)")
        return name, None, dict(given.get(name) or {})
    if name in STRATEGIES:
        raise SelbenchError(f"variant {name!r} has the name of a strategy; rename the variant")
    params = {**(given.get(variant.strategy) or {}), **variant.params, **(given.get(name) or {})}
    return variant.strategy, name, params


def _as_list(value) -> list:
    """A ``strategy_budget`` entry, one budget (``natural``, 0.3) or a list of them, as a list."""
    from omegaconf import ListConfig

    return list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]


def resolve_pool(cfg) -> Path:
    """The pool to select from: ``cfg.pool``, else the embedded pool (built if missing)."""
    if cfg.pool:
        path = Path(cfg.pool)
        if not path.is_dir():
            raise SelbenchError(f"pool {path} not found")
        return path
    if cfg.suite != "tiny":
        raise SelbenchError(f"run: suite {cfg.suite} needs pool=DIR (the embedded pool serves "
                            "the tiny suite only)")
    from harness.synth.build import build_pool

    emb = cfg.embedded_pool
    build_pool(Path(emb.dir), preset=emb.preset, seed=int(emb.seed))
    return Path(emb.dir)


def resolve_data_root(cfg, pool: Path) -> Path:
    """Where the evaluation sets are: ``cfg.data_root``, else the pool's own evalsets."""
    if cfg.data_root:
        return Path(cfg.data_root)
    from harness.pool.layout import Pool

    evalsets = Pool.open(pool).info.get("evalsets")
    if not evalsets:
        raise SelbenchError(f"pool {pool} has no embedded evaluation sets; give data_root=DIR")
    return pool / evalsets


def run_one(spec: RunSpec, cfg, pool: Path, data_root: Path, out: Path) -> Path:
    """Select, train and evaluate one cell; return its eval_results.jsonl path."""
    from harness.evaluate.runner import evaluate
    from harness.select.engine import run_selection
    from harness.train.trainer import train

    cell = spec.directory(out)
    params = json.loads(spec.params)
    subset = cell / "subset.npy"
    run_selection(pool, spec.strategy, params, make_budget(spec.budget), spec.seed, subset,
                  workers=int(cfg.workers), progress=f"select {spec.name}", variant=spec.variant,
                  executor=str(cfg.get("executor", "local")),
                  ray_address=(cfg.get("ray") or {}).get("address"))
    from harness.train.commands import scale_overrides

    scale = to_plain(cfg.scale)
    info = train(pool, subset, scale["name"], cell / "train", seed=spec.seed,
                 **scale_overrides(scale))
    results = cell / "eval" / "eval_results.jsonl"
    evaluate(cell / "train" / info["checkpoint"], cfg.suite, data_root, cell / "eval",
             allow_missing=bool(cfg.allow_missing))
    return results


def main(cfg, words) -> int:
    """``selbench run``: the whole sweep, then the leaderboard printed and written."""
    from tqdm import tqdm

    from harness.evaluate.datasets import check_present
    from harness.evaluate.tasks import load_suite
    from harness.leaderboard.build import build_leaderboard, format_text_table

    if words:
        raise SelbenchError(f"run takes only key=value overrides, got {' '.join(words)}")
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise SelbenchError(f"run: give a value for {', '.join(missing)} (e.g. {missing[0]}=...)")
    out = Path(cfg.out)
    specs = plan(cfg)
    integer(cfg.workers, "workers", 1)
    from harness.models import check_offline_model

    check_offline_model(cfg.scale.model, "scale.model")  # refused before any work, not at train
    created = not out.exists()
    with folder_lock(out):  # one `selbench run` per folder
        started = time.time()
        try:
            pool = resolve_pool(cfg)
            data_root = resolve_data_root(cfg, pool)
            check_present(load_suite(cfg.suite), data_root, bool(cfg.allow_missing))
        except BaseException:
            if created:  # leave no trace of a run that never started
                remove_created_folder(out)
            raise
        for name in ("command.txt", "config.yaml"):  # a killed run's temporaries (we hold the lock)
            remove_stale_temps(out / name, held=True)
        write_text_atomic(out / "command.txt",
                          "selbench " + " ".join(map(shlex.quote, sys.argv[1:])) + "\n")
        write_text_atomic(out / "config.yaml", OmegaConf.to_yaml(cfg))
        results = []
        for spec in tqdm(specs, desc="selbench run", unit="run", file=sys.stdout):
            tqdm.write(f"== {spec.label}", file=sys.stdout)
            results.append(run_one(spec, cfg, pool, data_root, out))
        board = build_leaderboard(results, out / "leaderboard")
    print(format_text_table(board))
    print(f"leaderboard written to {out / 'leaderboard'} ({time.time() - started:.0f} s)")
    return 0
