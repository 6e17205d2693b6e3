"""The strategy contract: what a selection method declares and implements.

A method is a subclass of ``Scorer`` (one score per row, computed shard by shard) or of
``SetSelector`` (needs global state; returns a row mask), registered once with
``@strategy("name")`` in the module that implements it::

    @dataclass
    class MyParams:
        embedding: str | None = None   # key prefix; None = the pool's default
        alpha: float = 1.0

    @strategy("my_method")
    class MyMethod(Scorer):
        \"\"\"One-line description shown by `selbench ls strategies`.\"\"\"
        version = "1"                  # part of the selection's identity: bump on a fix
        Params = MyParams
        embeddings = ("img", "txt")    # npz key suffixes this scorer reads
        columns = ()                   # parquet columns this scorer reads

        def score(self, shard):
            f, g = self.emb(shard, "img"), self.emb(shard, "txt")   # float32, checked finite
            return (f * g).sum(1)

and declared once more as an entry point of the group ``selbench.strategies`` in the
``pyproject.toml`` of the package that ships it (``my_method = "my_pkg.module:MyMethod"``):
selbench's built-ins and outside plugins alike, so the harness never imports ``baselines``
by name and a lookup imports only the module it needs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.errors import SelbenchError
from harness.registry import Registry
from harness.select.budget import Budget  # noqa: F401  (strategies import it from here)

# built-in methods are declared in selbench's own pyproject.toml, outside plugins in theirs:
# the same entry-point group, imported only when looked up
STRATEGIES: Registry[type] = Registry("strategy", "selbench.strategies")


def strategy(name: str):
    """Class decorator: register a ``Strategy`` subclass under ``name``."""

    def decorator(cls):
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise TypeError(f"@strategy({name!r}) must decorate a Scorer or SetSelector subclass")
        if not dataclasses.is_dataclass(cls.Params):
            raise TypeError(f"{cls.__qualname__}.Params must be a dataclass")
        version = vars(cls).get("version")
        if not (isinstance(version, str) and version):
            raise TypeError(f"{cls.__qualname__} must declare its own version = \"...\" (part of "
                            "every selection's identity: a new version recomputes its subsets)")
        cls.name = name
        return STRATEGIES.register(name)(cls)

    return decorator


@dataclass
class NoParams:
    """A strategy without parameters."""


@dataclass
class SelectionContext:
    """What a strategy may use: the open pool, the seed, the default embedding arch."""

    pool: Any  # harness.pool.layout.Pool
    seed: int = 0
    embedding: str | None = None  # default arch for keys, e.g. "l14"
    workers: int = 1
    extra: dict = dataclasses.field(default_factory=dict)  # values a strategy records
    executor: Any = None  # harness.select.executors.Executor the engine runs shards with
    progress: bool | str = False  # show progress bars when reading the pool


class Strategy:
    """Base of all strategies. Subclasses set ``Params``, ``columns``, ``embeddings``."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""  # declared by every registered strategy; bump it when results change
    shape: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    columns: ClassVar[tuple[str, ...]] = ()
    embeddings: ClassVar[tuple[str, ...]] = ()  # suffixes: "img", "txt"
    distributed: ClassVar[bool] = False  # shown by `selbench ls strategies`

    def __init__(self, params=None, context: SelectionContext | None = None):
        self.params = params if params is not None else self.Params()
        self.context = context

    def identity_version(self) -> str:
        """The version recorded in a selection's identity (composites add their parts')."""
        return type(self).version

    def input_files(self, pool) -> list:
        """Files besides the pool's shards that this selection reads (target embeddings, say):
        their content is part of the selection's identity, so a finished subset is not reused
        once one of them has changed. May raise ``SelbenchError`` when they cannot be resolved
        (the strategy reports that itself when it runs). Default: none."""
        return []

    # ----- helpers for subclasses -----------------------------------------------------
    @property
    def arch(self) -> str:
        """The embedding arch in use: ``params.embedding`` or the context's default."""
        arch = getattr(self.params, "embedding", None)
        if arch is None and self.context is not None:
            arch = self.context.embedding
        if arch is None:
            raise SelbenchError(f"{self.name}: no embedding arch given and no pool default")
        return arch

    def embedding_keys(self) -> list[str]:
        """npz keys this strategy reads, e.g. ``['l14_img', 'l14_txt']``."""
        return [f"{self.arch}_{suffix}" for suffix in self.embeddings]

    def emb(self, shard, suffix: str) -> np.ndarray:
        """The shard's ``<arch>_<suffix>`` embeddings as float32, checked finite."""
        from harness.select.embeddings import shard_float32

        return shard_float32(shard, f"{self.arch}_{suffix}")

    def emb_blocks(self, shard, *suffixes: str):
        """Yield ``(first row, [float32 block per suffix])`` over the shard, checked finite.

        Scorers that work row by row should prefer this to ``emb``: a block stays in cache
        from conversion to score (see ``harness.select.embeddings``).
        """
        from harness.select.embeddings import float32_blocks

        return float32_blocks(shard, [f"{self.arch}_{s}" for s in suffixes])

    def analog_file(self, pool, override, filename: str, param: str, what: str) -> Path:
        """``override`` as a path, else ``filename`` in the pool's ImageNet-analog task folder.

        Raises a one-line error naming ``strategy.<param>`` (a path to ``what``) when the
        pool's ``pool.json`` names no analog task and no override is given.
        """
        if override:
            return Path(override)
        path = pool.analog_task_file(filename)
        if path is None:
            raise SelbenchError(f"{self.name}: {pool.root}/pool.json names no evalsets/imagenet_analog; "
                                f"pass strategy.{param}=PATH to {what}")
        return path

    def prepare(self, pool) -> None:
        """Optional one-time set-up before reading shards (load targets, fit k-means).

        Whatever it stores on ``self`` must be picklable: with ``workers > 1`` the prepared
        strategy is sent once to every worker process.
        """

    def shard_rng(self, shard) -> np.random.Generator:
        """A generator seeded by (context seed, shard's first row): the same whatever the
        executor or worker count, so per-shard randomness stays reproducible."""
        seed = self.context.seed if self.context is not None else 0
        return np.random.Generator(np.random.PCG64([int(seed), int(shard.offset)]))

    @classmethod
    def doc(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


class Scorer(Strategy):
    """A strategy that scores rows shard by shard; higher scores are kept first."""

    shape: ClassVar[str] = "scorer"
    distributed: ClassVar[bool] = True  # scored as per-shard tasks on any executor

    def score(self, shard) -> np.ndarray:
        """Return one float per row of ``shard`` (a ``ShardData``)."""
        raise NotImplementedError

    def check_budget(self, budget: "Budget") -> None:
        """Raise ``SelbenchError`` when the parameters do not go with ``budget`` (default: all do)."""

    def natural_threshold(self, rows: int, kth_score) -> float:
        """Under ``budget=natural``, for a scorer whose own size is ``score >= T``: ``T``, found
        from ``kth_score(k)`` (the k-th highest score of the pool's ``rows``, 1-based) so that
        the engine cuts the per-shard score runs and no pool-wide score array is formed.

        A scorer overrides either this or ``natural_mask``; the engine uses this one when it
        is overridden (it must return a float or raise).
        """
        raise NotImplementedError

    def natural_mask(self, scores: np.ndarray) -> np.ndarray:
        """Rows kept under ``budget=natural`` (the method's own size), given all pool scores.

        Scorers without a natural size (the default) raise; a filter with a built-in cut
        (e.g. keep rows scoring > 0) overrides this.
        """
        raise SelbenchError(f"{self.name} has no natural size: use budget.fraction, "
                            "budget.count or budget.threshold")


class SetSelector(Strategy):
    """A strategy that needs global state and returns a boolean mask over pool rows."""

    shape: ClassVar[str] = "set"
    # True when the selector implements ``select_to_runs`` (its work runs as per-shard tasks
    # on the engine's executor); False: it needs global state and runs in one process
    # (under executor=ray too), reading shards through the executor where it can.
    distributed: ClassVar[bool] = False

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Return a bool mask over all pool rows (pool order) meeting ``budget``.

        Under a count or fraction budget, exactly ``budget.target(rows)`` rows must be set.
        Values the method found (e.g. MetaCLIP's t) go into ``self.context.extra``.
        """
        raise NotImplementedError


def top_k_mask(scores: np.ndarray, uids: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` highest scores; ties broken by uid ascending (deterministic).

    ``scores`` is float (NaN not allowed), ``uids`` the pool's ``u8,u8`` array, same order.
    """
    n = len(scores)
    if not 0 <= k <= n:
        raise SelbenchError(f"cannot keep {k} of {n} rows")
    mask = np.zeros(n, dtype=bool)
    if k == 0:
        return mask
    if k == n:
        mask[:] = True
        return mask
    s = np.asarray(scores, dtype=np.float64)
    kth = np.partition(s, n - k)[n - k]  # k-th largest value
    above = s > kth
    mask |= above
    need = k - int(above.sum())
    tied = np.flatnonzero(s == kth)
    if need:
        order = np.lexsort((uids["f1"][tied], uids["f0"][tied]))
        mask[tied[order[:need]]] = True
    return mask


def threshold_mask(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Mask of rows with ``score >= threshold`` (DataComp's threshold mode)."""
    return np.asarray(scores) >= threshold


def fraction_threshold(scores: np.ndarray, fraction: float) -> float:
    """DataComp's global threshold for a fraction: scores sorted descending, value at int(N*f)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    idx = int(len(s) * fraction)
    return float(s[min(idx, len(s) - 1)])
