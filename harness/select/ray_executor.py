"""``executor=ray``: the per-shard work of ``harness.select.executors`` as Ray tasks.

One task per shard (or per work item), each reading its own shard from the pool
directory, so only file paths and the prepared function travel; results come back in
submission order, so every strategy gives the same bytes as with the local executors.
Without ``address`` a local Ray instance with ``workers`` CPUs and no dashboard is
started (and shut down by ``close``); with ``address`` (``ray.address=HOST:PORT`` or
``auto``) the tasks go to that cluster, whose nodes must see the pool and the output
folder at the same paths. A Ray instance already started in this process is used as is.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.errors import SelbenchError
from harness.parallel import ray_worker_fn
from harness.pool.layout import read_shard
from harness.select.executors import Executor, _row_bar, shard_offsets


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SelbenchError("executor=ray needs Ray: pip install 'selbench[ray]'") from None
    return ray


class RayExecutor(Executor):
    """Runs shards as Ray tasks (``num_cpus=1`` each) on a local Ray or a cluster."""

    def __init__(self, workers: int = 2, address: str | None = None):
        if workers < 1:
            raise SelbenchError(f"workers must be >= 1, got {workers}")
        ray = _import_ray()  # fail early when Ray is not installed
        self.workers = int(workers)
        self.address = address or None
        # a cluster's tasks see only shared folders (a Ray found running may be a cluster)
        self.shares_machine = self.address is None and not ray.is_initialized()
        self.owned = False
        self.started = False

    def _start(self) -> None:
        """Start or join Ray on first use (a finished selection found on disk starts nothing)."""
        from harness.parallel import ray_init

        if not self.started:
            self.owned = ray_init(self.workers, self.address)
            self.started = True

    def map_shards(self, fn, pool, columns=(), embedding_keys=(), progress=False, shards=None):
        """See ``Executor.map_shards``: one task per shard, results in shard order."""
        offsets = shard_offsets(pool)
        shards = list(range(len(pool.shards)) if shards is None else shards)
        rows = pool.shard_rows()
        args = [(pool.shards[i], tuple(columns), tuple(embedding_keys), int(offsets[i]))
                for i in shards]
        bar = _row_bar(sum(rows[i] for i in shards), progress)
        out = self._run(_shard_task, fn, args, [rows[i] for i in shards], bar)
        return [np.asarray(r) for r in out]

    def map_items(self, fn, items, progress=False):
        """See ``Executor.map_items``: one task per item."""
        return self._run(_item_task, fn, list(items), None, None)

    def _run(self, task, fn, args: Sequence, sizes, bar) -> list:
        ray = _import_ray()
        if not args:
            return []
        self._start()
        remote = ray.remote(num_cpus=1, max_retries=0)(task)
        fn_box = [ray.put(fn)]  # sent once, deserialised once per worker (ray_worker_fn)
        refs = [remote.remote(fn_box, a) for a in args]
        index = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        try:
            while pending:  # wait as tasks finish (for the bar); errors surface at once
                done, pending = ray.wait(pending, num_returns=1)
                ray.get(done)
                if bar is not None:
                    bar.update(sizes[index[done[0]]])
            return ray.get(refs)
        except ray.exceptions.RayTaskError as exc:
            _stop(ray, pending)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SelbenchError):
                raise SelbenchError(str(cause)) from None
            raise SelbenchError(f"a Ray task failed: {cause or exc}") from exc
        finally:
            if bar is not None:
                bar.close()

    def close(self) -> None:
        """Shut down the Ray instance this executor started (not one it found running)."""
        if self.owned:
            _import_ray().shutdown()
        self.owned = self.started = False


def _stop(ray, refs: list, grace_s: float = 30.0) -> None:
    """Cancel ``refs`` and wait until none of them runs any more (forced after ``grace_s``),
    so that no task still writes into a folder the caller removes once the error is raised."""
    if not refs:
        return
    for ref in refs:
        ray.cancel(ref)
    _, running = ray.wait(refs, num_returns=len(refs), timeout=grace_s)
    for ref in running:  # ignored KeyboardInterrupt or stuck in native code: kill the worker
        ray.cancel(ref, force=True)
    if running:
        ray.wait(running, num_returns=len(running), timeout=grace_s)


def _shard_task(fn_box, arg):
    shard_files, columns, keys, offset = arg
    return ray_worker_fn(fn_box)(read_shard(shard_files, columns, keys, offset))


def _item_task(fn_box, item):
    return ray_worker_fn(fn_box)(item)
