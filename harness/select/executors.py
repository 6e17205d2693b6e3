"""Executors: run one function over every metadata shard of a pool, results in shard order.

An executor knows how to *schedule* per-shard work; it knows nothing about strategies.
The unit of work is ``fn(shard: ShardData) -> np.ndarray`` where the executor (or its
worker) reads the shard itself from the pool directory, so only file paths travel to
workers, never embeddings. ``fn`` must be picklable for anything but ``LocalExecutor``
(a module-level function or an instance of a module-level class; a strategy's state set
in ``prepare`` travels with it once per worker).

- ``LocalExecutor(workers=1)``: in this process, one shard after the other.
- ``ProcessExecutor(workers=N)``: a ``concurrent.futures`` process pool; each worker reads
  its own shards. Results are identical to ``LocalExecutor``'s whatever ``workers`` is,
  because every shard is computed by the same code from the same inputs and results are
  returned in shard order.

- ``RayExecutor(workers=N, address=None)``: one Ray task per shard (``harness.select.ray_executor``);
  a local Ray instance with ``workers`` CPUs, or the cluster at ``address``.

``map_items`` runs a function over small picklable items (file names, counts) the same
way, for work that reads no shard (the per-shard steps of a global top-k).
"""
from __future__ import annotations

import multiprocessing
from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Sequence

import numpy as np

from harness.errors import SelbenchError
from harness.parallel import worker_threads
from harness.pool.layout import read_shard

ShardFn = Callable[..., np.ndarray]


class Executor(ABC):
    """Maps a per-shard function over a pool; subclasses decide where shards are computed."""

    workers: int = 1
    # True when every task runs on this machine, so a temporary folder is seen by all of them
    shares_machine: bool = True

    @abstractmethod
    def map_shards(self, fn: ShardFn, pool, columns: Sequence[str] = (),
                   embedding_keys: Sequence[str] = (), progress: bool | str = False,
                   shards: Sequence[int] | None = None) -> list[np.ndarray]:
        """Return ``[fn(shard) for shard in pool]`` in shard order.

        Each shard is read with ``columns`` (parquet) and ``embedding_keys`` (npz) only.
        ``progress`` (True or a label) shows a tqdm bar over rows. ``shards`` limits the
        work to those shard indices (in that order); default all.
        """

    @abstractmethod
    def map_items(self, fn: Callable, items: Sequence, progress: bool | str = False) -> list:
        """Return ``[fn(item) for item in items]`` in order (``fn`` and items picklable)."""

    def close(self) -> None:
        """Release what the executor started (nothing for in-process executors)."""


class LocalExecutor(Executor):
    """Runs every shard in this process, in order (``workers`` must be 1)."""

    def __init__(self, workers: int = 1):
        if workers != 1:
            raise SelbenchError(f"LocalExecutor runs in one process; got workers={workers}")
        self.workers = 1

    def map_shards(self, fn, pool, columns=(), embedding_keys=(), progress=False, shards=None):
        """See ``Executor.map_shards``."""
        if shards is None:
            results = []
            for shard in pool.iter_shards(columns, embedding_keys, progress=progress):
                results.append(np.asarray(fn(shard)))
                del shard  # one shard in memory: dropped before the next is read
            return results
        offsets = shard_offsets(pool)
        bar = _row_bar(sum(pool.shard_rows()[i] for i in shards), progress)
        results = []
        for i in shards:
            shard = read_shard(pool.shards[i], columns, embedding_keys, offsets[i])
            results.append(np.asarray(fn(shard)))
            if bar is not None:
                bar.update(len(shard))
            del shard
        if bar is not None:
            bar.close()
        return results

    def map_items(self, fn, items, progress=False):
        """See ``Executor.map_items``."""
        return [fn(item) for item in items]


class ProcessExecutor(Executor):
    """Runs shards in a pool of ``workers`` processes (``spawn`` by default: safe with torch)."""

    def __init__(self, workers: int = 2, start_method: str = "spawn"):
        if workers < 1:
            raise SelbenchError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self.start_method = start_method

    def map_shards(self, fn, pool, columns=(), embedding_keys=(), progress=False, shards=None):
        """See ``Executor.map_shards``. ``fn`` is sent once to each worker process."""
        offsets = shard_offsets(pool)
        shards = range(len(pool.shards)) if shards is None else shards
        tasks = [(pool.shards[i], tuple(columns), tuple(embedding_keys), int(offsets[i]))
                 for i in shards]
        rows = pool.shard_rows()
        bar = _row_bar(sum(rows[i] for i in shards), progress)
        results = self._run(fn, _run_task, tasks, str(pool.root), bar)
        if bar is not None:
            bar.close()
        return [np.asarray(out) for _, out in results]

    def map_items(self, fn, items, progress=False):
        """See ``Executor.map_items``."""
        return self._run(fn, _run_item, list(items), "work items", None)

    def _run(self, fn, runner, tasks, what: str, bar) -> list:
        if not tasks:
            return []
        ctx = multiprocessing.get_context(self.start_method)
        results: list = []
        workers = min(self.workers, max(1, len(tasks)))
        try:  # workers start with cores // workers BLAS threads each (as Ray's do)
            with worker_threads(self.workers), ProcessPoolExecutor(
                    workers, mp_context=ctx, initializer=_init_worker, initargs=(fn,)) as ex:
                for out in ex.map(runner, tasks):  # yields in submission order
                    results.append(out)
                    if bar is not None:
                        bar.update(out[0])  # (rows read, result) from _run_task
        except BrokenProcessPool as exc:
            raise SelbenchError(f"a worker process died while reading {what} ({exc}); "
                                "rerun with fewer workers or workers=1") from exc
        return results


EXECUTORS = ("local", "ray")


def make_executor(workers: int = 1, kind: str = "local", address: str | None = None) -> Executor:
    """An executor: ``kind=local`` is ``LocalExecutor`` for 1 worker, else ``ProcessExecutor``;
    ``kind=ray`` is a ``RayExecutor`` (a local Ray with ``workers`` CPUs, or ``address``)."""
    workers = int(workers)
    if workers < 1:
        raise SelbenchError(f"workers must be >= 1, got {workers}")
    if kind == "ray":
        from harness.select.ray_executor import RayExecutor

        return RayExecutor(workers, address)
    if kind != "local":
        raise SelbenchError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
    if address:
        raise SelbenchError("ray.address applies to executor=ray only")
    return LocalExecutor() if workers == 1 else ProcessExecutor(workers)


def shard_offsets(pool) -> list[int]:
    """Row index of each shard's first row in the pool (plus the total at the end)."""
    return np.concatenate([[0], np.cumsum(pool.shard_rows())]).astype(int).tolist()


# ----- worker side (module level so that spawn can import it) ------------------------------
_WORKER_FN: ShardFn | None = None


def _init_worker(fn: ShardFn) -> None:
    global _WORKER_FN
    _WORKER_FN = fn


def _run_task(task) -> tuple[int, np.ndarray]:
    shard_files, columns, keys, offset = task
    shard = read_shard(shard_files, columns, keys, offset)
    return len(shard), np.asarray(_WORKER_FN(shard))


def _run_item(item):
    return _WORKER_FN(item)


def _row_bar(total: int, progress):
    if not progress:
        return None
    from tqdm import tqdm

    label = progress if isinstance(progress, str) else "rows"
    return tqdm(total=total, desc=label, unit="row", unit_scale=True, leave=False)
