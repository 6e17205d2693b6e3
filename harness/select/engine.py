"""The selection engine: strategy + budget + pool -> a DataComp subset file and its manifest.

``run_selection`` is the stage API (``selbench select`` and ``selbench run`` call it). The
pieces it is made of are public so that combinators and composite methods reuse them:
``build_strategy`` (name + params dict -> a checked strategy instance), ``score_pool``
(a scorer over every shard through an executor), ``scores_to_mask`` (scores -> rows under
a budget) and ``select_mask`` (either shape -> a checked mask).

Memory: a scorer under a count, fraction or threshold budget goes through
``select_by_runs``: each shard's task writes its sorted (score, uid) run into a work
folder beside the output (``<out stem>.work/``), the cut is found from those files, each
shard's task (on the executor) writes its kept uids and the subset is merged from them
(``harness.select.runs``), so the driver holds O(shards), a killed run resumes shard by
shard, and the bytes are the same for every executor and worker count; so does a scorer
under ``budget=natural`` whose own size is a threshold (``Scorer.natural_threshold``,
e.g. clip_score's DataComp rule). Set selectors other than distributed ones, combinators
and other natural budgets hold O(pool rows) small arrays (scores, uids, a bool mask).
Embeddings are only ever read one shard at a time, inside the executor.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Mapping

import numpy as np
import pyarrow.parquet as pq

from harness.errors import SelbenchError
from harness.select.outputs import check_outputs
from harness.io import atomic_path, package_versions, remove_stale_temps, sha256_file
from harness.lock import output_lock
from harness.pool.layout import Pool
from harness.pool.rules import require_pool_rules
from harness.pool.uid import sort_uid_array
from harness.select.base import (STRATEGIES, Scorer, SelectionContext, SetSelector, Strategy,
                                 fraction_threshold, threshold_mask, top_k_mask)
from harness.select.budget import Budget, check_budget
from harness.select.embeddings import check_stored_finite
from harness.select.executors import Executor, LocalExecutor, make_executor
from harness.schemas import read_json, stamp
from harness.select import runs as score_runs


# ----- strategies and their parameters -----------------------------------------------------
def strategy_class(name: str) -> type:
    """The registered strategy class ``name``; unknown names list the closest ones."""
    if not name:
        raise SelbenchError("no strategy given: pass strategy=NAME (see `selbench ls strategies`)")
    cls = STRATEGIES.get(str(name))
    if not (isinstance(cls, type) and issubclass(cls, (Scorer, SetSelector))):
        raise SelbenchError(f"strategy {name!r} ({cls!r}) is not a Scorer or SetSelector subclass")
    return cls


def build_params(cls: type, params: Mapping | None):
    """``cls.Params`` filled from ``params``, type-checked (OmegaConf structured config).

    Unknown keys and values of the wrong type raise a one-line ``SelbenchError`` naming
    the strategy and its valid parameters.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    params = dict(params or {})
    name = getattr(cls, "name", "") or cls.__name__
    valid = [f.name for f in dataclasses.fields(cls.Params)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        listed = ", ".join(valid) if valid else "none"
        raise SelbenchError(f"unknown parameter(s) {', '.join(unknown)} for strategy {name} "
                            f"(valid: {listed})")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls.Params), params)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        msg = " ".join(str(exc).split("\n")[0].split())
        raise SelbenchError(f"strategy {name}: bad parameter value: {msg}") from exc


def params_dict(params) -> dict:
    """A strategy's resolved parameters as a JSON-safe dict (non-finite floats as strings)."""
    return jsonable(dataclasses.asdict(params))


def build_strategy(name: str, params: Mapping | None, context: SelectionContext) -> Strategy:
    """Instantiate strategy ``name`` with checked ``params`` in ``context``."""
    cls = strategy_class(name)
    return cls(build_params(cls, params), context)


def make_context(pool: Pool, seed: int = 0, executor: Executor | None = None,
                 progress: bool | str = False) -> SelectionContext:
    """A ``SelectionContext`` for ``pool`` with its default embedding arch (None if it has none)."""
    try:
        arch = pool.default_embedding
    except SelbenchError:
        arch = None
    executor = executor or LocalExecutor()
    return SelectionContext(pool=pool, seed=int(seed), embedding=arch, workers=executor.workers,
                            executor=executor, progress=progress)


def check_inputs(strategy: Strategy, pool: Pool) -> None:
    """Raise a one-line error when the pool lacks an embedding key or column the strategy reads."""
    keys = strategy.embedding_keys()
    if keys:
        have = pool.embedding_keys()
        missing = [k for k in keys if k not in have]
        if missing:
            raise SelbenchError(f"{pool.shards[0].npz}: embedding key(s) {', '.join(missing)} "
                                f"needed by {strategy.name} are missing (has: {', '.join(have)}; "
                                f"archs: {', '.join(pool.embedding_archs()) or 'none'})")
    if strategy.columns:
        names = pq.read_schema(pool.shards[0].parquet).names
        missing = [c for c in strategy.columns if c not in names]
        if missing:
            raise SelbenchError(f"{pool.shards[0].parquet}: column(s) {', '.join(missing)} "
                                f"needed by {strategy.name} are missing")


# ----- scoring and masks -------------------------------------------------------------------
class ScoreTask:
    """Picklable per-shard job: a scorer's checked float32 scores for one shard.

    Every embedding key read for the scorer passes the pool's value rules: as the scorer
    converts it (``harness.select.embeddings``), else here after it scored.
    """

    def __init__(self, scorer: Scorer):
        self.scorer = scorer

    def __call__(self, shard) -> np.ndarray:
        s = np.asarray(self.scorer.score(shard))
        for key in set(shard.embeddings) - shard.values_checked:  # read raw by the scorer
            check_stored_finite(shard, key)  # the pool's value rules, which select left to here
        if s.dtype != np.float64:  # float64 (a stored score column) is kept as it is compared
            s = s.astype(np.float32, copy=False)
        if s.shape != (len(shard),):
            raise SelbenchError(f"{self.scorer.name}: {shard.files.parquet}: got {s.shape} "
                                f"scores for {len(shard)} rows")
        if not np.isfinite(s).all():
            row = int(np.argmin(np.isfinite(s)))
            raise SelbenchError(f"{self.scorer.name}: {shard.files.parquet}: row {row}: "
                                "non-finite score")
        return s


class ScoreRunTask:
    """Picklable per-shard job: score a shard (checked as ``ScoreTask``) and write its sorted run.

    Returns ``[rows]``; the run's files are the result (``harness.select.runs``).
    """

    def __init__(self, scorer: Scorer, folder: Path):
        self.task, self.folder = ScoreTask(scorer), Path(folder)

    def __call__(self, shard) -> np.ndarray:
        scores = self.task(shard)
        score_runs.write_run(self.folder, shard.files.stem, scores, shard.uids)
        return np.array([len(shard)])


def work_folder(out: Path) -> Path:
    """The folder beside ``out`` where per-shard runs of a selection are kept until it finishes."""
    out = Path(out)
    return out.with_name(out.stem + ".work")


def open_work(work: Path, key: dict) -> None:
    """Make ``work`` the folder of the selection ``key``: kept as is when it records the same
    key (a resumed run), else cleared and started afresh."""
    ident = Path(work) / "identity.json"
    try:
        same = json.loads(ident.read_text()) == jsonable(key)
    except (OSError, json.JSONDecodeError):
        same = False
    if not same:
        score_runs.remove_tree(work)
        Path(work).mkdir(parents=True)
        ident.write_text(json.dumps(jsonable(key), sort_keys=True))


def select_by_runs(scorer: Scorer, pool: Pool, budget: Budget, work: Path, key: dict,
                   executor: Executor, progress: bool | str = False) -> dict:
    """Score every shard into ``work`` (resuming finished shards), cut by ``budget``, write kept uids.

    ``budget`` is a count, fraction or threshold, or natural for a scorer whose own size is
    a threshold (``natural_by_runs``). ``key`` identifies the scores (strategy,
    params, seed, pool): a work folder recorded for another key is cleared first. Returns
    ``{"kept": [per-shard sorted uid files], "selected": rows, "stats": score stats}``.
    """
    work = Path(work)
    open_work(work, key)
    folder, kept = work / "scores", work / "kept"
    folder.mkdir(exist_ok=True)
    stems = [s.stem for s in pool.shards]
    missing = [i for i, stem in enumerate(stems) if not score_runs.run_done(folder, stem)]
    scorer.prepare(pool)  # also on a full resume: prepare records values in the manifest
    if missing:
        label = f"scoring {scorer.name}" if progress is True else progress
        executor.map_shards(ScoreRunTask(scorer, folder), pool, scorer.columns,
                            scorer.embedding_keys(), progress=label, shards=missing)
    runs = score_runs.ScoreRuns(folder, stems)
    n = runs.rows
    target = budget.target(n)
    if target is not None:
        counts = runs.prefix_counts(runs.cut(target))
    elif budget.natural:  # the scorer's own threshold (natural_by_runs)
        counts = runs.threshold_counts(scorer.natural_threshold(n, runs.kth_score))
    else:
        counts = runs.threshold_counts(budget.threshold)
    selected = int(sum(counts))
    stats = {}
    if selected:
        low, high = runs.score_range()
        stats = {"min": low, "max": high, "cutoff": runs.kth_score(selected)}
        if budget.fraction is not None:  # DataComp's global threshold: sorted desc, value at int(N*f)
            stats["datacomp_threshold"] = runs.kth_score(min(int(n * budget.fraction), n - 1) + 1)
    score_runs.remove_tree(kept)
    kept.mkdir()
    items = [(stem, c) for stem, c in zip(stems, counts) if c]
    executor.map_items(score_runs.KeepTask(folder, kept), items)  # one task per shard
    return {"kept": [kept / f"{stem}.npy" for stem, _ in items], "selected": selected,
            "stats": stats}


def natural_by_runs(scorer: Scorer) -> bool:
    """True when ``scorer``'s ``budget=natural`` is a threshold found from its score runs
    (it overrides ``Scorer.natural_threshold``), so no pool-wide score array is needed."""
    return type(scorer).natural_threshold is not Scorer.natural_threshold


def _shard_uids(shard) -> np.ndarray:
    return shard.uids


def pool_uids(pool: Pool, executor: Executor | None = None) -> np.ndarray:
    """Every uid of the pool (``u8,u8``), in pool order (parquet uid column only).

    Read in this process unless ``executor`` is given (it is cheap: no embeddings).
    """
    parts = (executor or LocalExecutor()).map_shards(_shard_uids, pool)
    return np.concatenate(parts) if parts else np.empty(0, dtype="u8,u8")


def score_pool(scorer: Scorer, pool: Pool, executor: Executor | None = None,
               progress: bool | str = False) -> np.ndarray:
    """``scorer.prepare(pool)``, then its scores for every row, in pool order.

    float32, or float64 when the scorer returns float64 for every shard (a stored column).

    Shards run through ``executor`` (default: in process); the result does not depend on
    the executor or its worker count.
    """
    scorer.prepare(pool)
    executor = executor or LocalExecutor()
    label = f"scoring {scorer.name}" if progress is True else progress
    parts = executor.map_shards(ScoreTask(scorer), pool, scorer.columns,
                                scorer.embedding_keys(), progress=label)
    if not parts:
        return np.empty(0, np.float32)
    wide = all(p.dtype == np.float64 for p in parts)
    return np.concatenate(parts).astype(np.float64 if wide else np.float32, copy=False)


def scores_to_mask(scorer: Scorer, scores: np.ndarray, uids: np.ndarray, budget: Budget) -> np.ndarray:
    """Rows kept by ``budget``: exact top-k (ties by uid ascending), ``>= threshold``, or natural."""
    target = budget.target(len(scores))
    if target is not None:
        return top_k_mask(scores, uids, target)
    if budget.threshold is not None:
        return threshold_mask(scores, budget.threshold)
    return np.asarray(scorer.natural_mask(scores), dtype=bool)


def select_mask(strategy: Strategy, pool: Pool, budget: Budget, uids: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Run ``strategy`` (either shape) under ``budget``; return its checked bool mask.

    Under a count or fraction the mask holds exactly the target; under a threshold or
    natural budget it must keep at least one row.
    """
    n = len(uids)
    target = check_budget(budget, n)
    context = strategy.context or make_context(pool)
    if isinstance(strategy, Scorer):
        strategy.check_budget(budget)
        if budget.natural and type(strategy).natural_mask is Scorer.natural_mask:
            strategy.natural_mask(np.empty(0, np.float32))  # raises: no natural size
        scores = score_pool(strategy, pool, context.executor, context.progress)
        mask = scores_to_mask(strategy, scores, uids, budget)
        _record_scores(context, scores, mask, budget)
    else:
        if budget.threshold is not None and not getattr(strategy, "accepts_threshold", False):
            raise SelbenchError(f"budget.threshold applies to scorers; {strategy.name} is a "
                                "set selector (use budget.fraction, budget.count or budget=natural)")
        strategy.prepare(pool)
        mask = strategy.select(pool, budget, rng)
    return _checked_mask(strategy.name, mask, n, target, budget)


def _checked_mask(name: str, mask, n: int, target: int | None, budget: Budget) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (n,):
        raise SelbenchError(f"{name} returned a {mask.dtype} mask of shape {mask.shape}; "
                            f"expected bool ({n},)")
    kept = int(mask.sum())
    if target is not None and kept != target:
        raise SelbenchError(f"{name} selected {kept} rows but the budget asks for exactly {target}")
    if kept == 0:
        raise SelbenchError(f"{name} kept no row under budget {budget.describe()}")
    return mask


def _record_scores(context: SelectionContext, scores: np.ndarray, mask: np.ndarray,
                   budget: Budget) -> None:
    if not mask.any():
        return
    stats = {"min": float(scores.min()), "max": float(scores.max()),
             "cutoff": float(scores[mask].min())}
    if budget.fraction is not None:  # DataComp's equivalent global threshold for this fraction
        stats["datacomp_threshold"] = fraction_threshold(scores, budget.fraction)
    context.extra.setdefault("score_stats", stats)


# ----- the stage -----------------------------------------------------------------------------
def run_selection(pool_dir, strategy: str, params: Mapping | None, budget: Budget, seed: int,
                  out, workers: int = 1, progress: bool | str = True, overwrite: bool = False,
                  variant: str | None = None, executor: str = "local",
                  ray_address: str | None = None) -> dict:
    """Select a subset of ``pool_dir`` with ``strategy`` under ``budget``; return the manifest.

    Writes the sorted ``u8,u8`` subset to ``out`` (``.npy``) and the manifest JSON to
    ``out.with_suffix('.json')``, both atomically (a failed run leaves neither). ``variant``
    is the name a sweep gave this strategy and parameters (recorded, shown by leaderboards). Returns the
    existing manifest without recomputing when the same selection (strategy and its
    version, resolved params, budget, seed, pool fingerprint) already finished and the
    file's sha256 matches. Files at either name that are not a previous selection need
    ``overwrite=True``; temporaries a killed select left beside them (``harness.io``
    names: their owner's pid is dead) are removed. ``executor`` is ``local`` (``workers`` processes) or ``ray``
    (``ray_address`` or a local Ray with ``workers`` CPUs); the bytes do not depend on either.
    """
    out = Path(out)
    if out.suffix != ".npy":
        raise SelbenchError(f"out={out}: the subset file must end in .npy")
    check_outputs(out, overwrite)
    for target in (out, out.with_suffix(".json")):  # what a killed select left (owner dead)
        remove_stale_temps(target)
    pool = Pool.open(pool_dir)
    runner = make_executor(workers, executor, ray_address)
    try:
        return _run_selection(pool, strategy, params, budget, seed, out, runner, progress,
                              variant)
    finally:
        runner.close()


def _run_selection(pool: Pool, strategy: str, params: Mapping | None, budget: Budget, seed: int,
                   out: Path, executor: Executor, progress: bool | str,
                   variant: str | None = None) -> dict:
    start = time.perf_counter()
    context = make_context(pool, seed, executor, progress)
    strat = build_strategy(strategy, params, context)
    n = pool.num_rows
    if n == 0:
        raise SelbenchError(f"{pool.root}: the pool has no rows")
    check_budget(budget, n)
    identity = _identity(strat, budget, seed, pool)
    if variant:
        identity["variant"] = str(variant)
    done = finished_manifest(out, identity)
    if done is not None:
        return done
    # the rules `pool validate` and `train` apply (harness.pool.rules), shard by shard on the
    # executor; per-shard sorted uids are compared in a temporary folder (TMPDIR), or beside
    # the output when the tasks may run on other machines; a scorer's own keys have their
    # values checked as it converts them (ScoreTask), not in a second read
    rules = None if executor.shares_machine else out.with_name(out.stem + ".rules")
    with contextlib.ExitStack() as held:  # one process per output (harness.lock.output_lock)
        if rules is not None:  # the rules' files go beside the output: hold it from here
            held.enter_context(output_lock(out))
        require_pool_rules(pool, strat.embedding_keys() if isinstance(strat, Scorer) else (),
                           executor.map_items, rules)
        check_inputs(strat, pool)
        if rules is None:  # the first file beside the output is written from here on
            held.enter_context(output_lock(out))
        work, selected, write = _select(strat, pool, budget, seed, identity, out, executor, context)
        manifest = dict(identity, shape=strat.shape, embedding=_arch_used(strat),
                        embedding_keys=strat.embedding_keys(),
                        pool={"path": str(pool.root.resolve()), "name": pool.name, "rows": n},
                        selected=selected, extra=jsonable(context.extra),
                        versions=package_versions())
        _write_outputs(out, write, manifest, start, pool)
        if work is not None:
            score_runs.remove_tree(work)
    return read_json("subset manifest", out.with_suffix(".json"))


def _select(strat: Strategy, pool: Pool, budget: Budget, seed: int, identity: dict, out: Path,
            executor: Executor, context: SelectionContext):
    """Run ``strat`` under ``budget``; return ``(work folder or None, rows selected, write)``,
    ``write(tmp)`` writing the sorted subset ``.npy`` to ``tmp``. Scorers and distributed set
    selectors keep per-shard files in the work folder beside ``out``; the others select in memory."""
    n = pool.num_rows
    work = None
    if isinstance(strat, Scorer) and (not budget.natural or natural_by_runs(strat)):
        strat.check_budget(budget)
        work = work_folder(out)
        key = dict(identity, embedding_keys=strat.embedding_keys())
        key.pop("budget")
        key.pop("variant", None)  # a name only: the same scores under any variant name
        try:
            found = select_by_runs(strat, pool, budget, work, key, executor, context.progress)
        except SelbenchError:
            # bad input: fixing it changes the pool's fingerprint, which would void these
            # runs anyway; an interrupted or killed run keeps them to resume from
            score_runs.remove_tree(work)
            raise
        if not found["selected"]:
            raise SelbenchError(f"{strat.name} kept no row under budget {budget.describe()}")
        if found["stats"]:
            context.extra.setdefault("score_stats", found["stats"])
        selected = found["selected"]

        def write(tmp: Path) -> None:
            score_runs.merge_sorted(found["kept"], tmp, stage=work / "merge")
    elif isinstance(strat, SetSelector) and strat.distributed:
        work = work_folder(out)
        key = dict(identity)  # its input files' sha256 included: a changed file clears the folder
        key.pop("budget")
        key.pop("variant", None)
        rng = np.random.Generator(np.random.PCG64(int(seed)))
        try:
            open_work(work, key)
            strat.prepare(pool)
            found = strat.select_to_runs(pool, budget, rng, work, executor)
        except SelbenchError:
            score_runs.remove_tree(work)
            raise
        selected = found["selected"]
        target = budget.target(n)
        if target is not None and selected != target:
            raise SelbenchError(f"{strat.name} selected {selected} rows but the budget asks "
                                f"for exactly {target}")
        if not selected:
            raise SelbenchError(f"{strat.name} kept no row under budget {budget.describe()}")

        def write(tmp: Path) -> None:
            score_runs.merge_sorted(found["kept"], tmp, stage=work / "merge")
    else:
        uids = pool_uids(pool)
        rng = np.random.Generator(np.random.PCG64(int(seed)))
        mask = select_mask(strat, pool, budget, uids, rng)
        selected = int(mask.sum())

        def write(tmp: Path) -> None:
            np.save(tmp, sort_uid_array(uids[mask]), allow_pickle=False)
    return work, selected, write


def _identity(strat: Strategy, budget: Budget, seed: int, pool: Pool) -> dict:
    identity = {"strategy": strat.name, "version": strat.identity_version(),
                "params": params_dict(strat.params),
                "budget": jsonable(budget.describe()), "seed": int(seed),
                "pool_fingerprint": pool.fingerprint}
    try:
        files = strat.input_files(pool)
    except SelbenchError:  # not resolvable (no such target, say): the strategy's own check says so
        files = []
    inputs = input_digests(files, pool.root)
    if inputs:
        identity["inputs"] = inputs
    return identity


def input_digests(paths, root: Path) -> dict[str, str]:
    """``{name: sha256}`` of the existing files among ``paths`` (named relative to ``root``
    when under it); a missing one is left to the strategy's own check."""
    out = {}
    for path in map(Path, paths):
        if path.is_file():
            try:
                name = str(path.resolve().relative_to(Path(root).resolve()))
            except ValueError:
                name = str(path)
            out[name] = sha256_file(path)
    return out


def finished_manifest(out: Path, identity: dict) -> dict | None:
    """The manifest beside ``out`` when it records ``identity`` and ``out``'s sha256 matches."""
    meta = Path(out).with_suffix(".json")
    if not (Path(out).is_file() and meta.is_file()):
        return None
    try:
        manifest = read_json("subset manifest", meta)
    except SelbenchError:  # unreadable or not a manifest: recompute and replace it
        return None
    same = all(manifest.get(k) == v for k, v in identity.items())
    if not same or manifest.get("subset_sha256") != sha256_file(out):
        return None
    return manifest


def _write_outputs(out: Path, write, manifest: dict, start: float, pool: Pool) -> None:
    """Write the subset (``write(tmp_path)`` writes the sorted ``.npy``), its audit when the
    pool has ground truth, then its manifest (the marker of a finished run); all or nothing."""
    meta_path = out.with_suffix(".json")
    subset_in_place = False
    try:
        with atomic_path(meta_path) as tmp_json:
            with atomic_path(out, suffix=".npy") as tmp_npy:
                write(tmp_npy)
                if pool.audit_path is not None:
                    from harness.select.audit import audit_report

                    uids = pool_uids(pool)
                    mask = subset_mask(uids, np.load(tmp_npy, allow_pickle=False))
                    manifest["audit"] = audit_report(pool.audit_path, uids, mask)
                manifest["subset"] = out.name
                manifest["subset_sha256"] = sha256_file(tmp_npy)
                manifest["wall_time_s"] = round(time.perf_counter() - start, 3)
                manifest = stamp("subset manifest", manifest, str(meta_path))
                tmp_json.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            subset_in_place = True
    except BaseException:
        if subset_in_place:
            out.unlink(missing_ok=True)
        raise


def subset_mask(uids: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Bool mask over ``uids`` (pool order) of the rows whose uid is in the sorted ``subset``."""
    def bytes16(a):  # big-endian halves: byte order is the numeric (f0, f1) order
        return np.asarray(a).astype([("f0", ">u8"), ("f1", ">u8")]).view("V16")

    sub, rows = bytes16(subset), bytes16(uids)
    pos = np.searchsorted(sub, rows)
    ok = pos < len(sub)
    ok[ok] = sub[pos[ok]] == rows[ok]
    return ok


def _arch_used(strat: Strategy) -> str | None:
    """The arch a strategy reads its own embeddings with (None when it reads none itself)."""
    if not (strat.embeddings or hasattr(strat.params, "embedding")):
        return None
    try:
        return strat.arch
    except SelbenchError:
        return None


def jsonable(obj):
    """``obj`` with numpy scalars/arrays made plain and non-finite floats written as strings."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, (os.PathLike,)):
        return str(obj)
    return obj
