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

A distributed executor (e.g. Ray: one ``ray.remote`` task per shard reading
``pool.shards[i]`` on a cluster node, gathered in shard order with ``ray.get``) implements
the same ``map_shards`` contract and needs no change to any strategy. It is not part of
selbench yet.
"""
from __future__ import annotations

import multiprocessing
from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Sequence

import numpy as np

from harness.errors import SelbenchError
from harness.pool.layout import read_shard

ShardFn = Callable[..., np.ndarray]


class Executor(ABC):
    """Maps a per-shard function over a pool; subclasses decide where shards are computed."""

    workers: int = 1

    @abstractmethod
    def map_shards(self, fn: ShardFn, pool, columns: Sequence[str] = (),
                   embedding_keys: Sequence[str] = (), progress: bool | str = False) -> list[np.ndarray]:
        """Return ``[fn(shard) for shard in pool]`` in shard order.

        Each shard is read with ``columns`` (parquet) and ``embedding_keys`` (npz) only.
        ``progress`` (True or a label) shows a tqdm bar over rows.
        """


class LocalExecutor(Executor):
    """Runs every shard in this process, in order (``workers`` must be 1)."""

    def __init__(self, workers: int = 1):
        if workers != 1:
            raise SelbenchError(f"LocalExecutor runs in one process; got workers={workers}")
        self.workers = 1

    def map_shards(self, fn, pool, columns=(), embedding_keys=(), progress=False):
        """See ``Executor.map_shards``."""
        results = []
        for shard in pool.iter_shards(columns, embedding_keys, progress=progress):
            results.append(np.asarray(fn(shard)))
            del shard  # one shard in memory: dropped before the next is read
        return results


class ProcessExecutor(Executor):
    """Runs shards in a pool of ``workers`` processes (``spawn`` by default: safe with torch)."""

    def __init__(self, workers: int = 2, start_method: str = "spawn"):
        if workers < 1:
            raise SelbenchError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self.start_method = start_method

    def map_shards(self, fn, pool, columns=(), embedding_keys=(), progress=False):
        """See ``Executor.map_shards``. ``fn`` is sent once to each worker process."""
        offsets = np.concatenate([[0], np.cumsum(pool.shard_rows())]).tolist()
        tasks = [(shard, tuple(columns), tuple(embedding_keys), int(offsets[i]))
                 for i, shard in enumerate(pool.shards)]
        ctx = multiprocessing.get_context(self.start_method)
        bar = _row_bar(offsets[-1], progress)
        results: list[np.ndarray] = []
        workers = min(self.workers, max(1, len(tasks)))
        try:
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                     initargs=(fn,)) as ex:
                for out in ex.map(_run_task, tasks):  # yields in submission (shard) order
                    results.append(np.asarray(out))
                    if bar is not None:
                        bar.update(len(out))
        except BrokenProcessPool as exc:
            raise SelbenchError(f"a worker process died while reading {pool.root} ({exc}); "
                                "rerun with fewer workers or workers=1") from exc
        if bar is not None:
            bar.close()
        return results


def make_executor(workers: int = 1) -> Executor:
    """``LocalExecutor`` for ``workers <= 1``, else a ``ProcessExecutor`` with that many workers."""
    workers = int(workers)
    if workers < 1:
        raise SelbenchError(f"workers must be >= 1, got {workers}")
    return LocalExecutor() if workers == 1 else ProcessExecutor(workers)


# ----- worker side (module level so that spawn can import it) ------------------------------
_WORKER_FN: ShardFn | None = None


def _init_worker(fn: ShardFn) -> None:
    global _WORKER_FN
    _WORKER_FN = fn


def _run_task(task) -> np.ndarray:
    shard_files, columns, keys, offset = task
    shard = read_shard(shard_files, columns, keys, offset)
    return np.asarray(_WORKER_FN(shard))


def _row_bar(total: int, progress):
    if not progress:
        return None
    from tqdm import tqdm

    label = progress if isinstance(progress, str) else "rows"
    return tqdm(total=total, desc=label, unit="row", unit_scale=True, leave=False)
