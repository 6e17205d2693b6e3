"""Running one picklable function over a list of items: in process, in worker processes, or
as Ray tasks; results always in item order, so output never depends on where work ran.

Stages that parallelise per-file work (resharding's per-tar filtering) use ``map_in_order``;
selection has its own executors over pool shards (``harness.select.executors``), which start
Ray through ``ray_init`` here.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Sequence

from harness.errors import SelbenchError

KINDS = ("local", "ray")


def ray_init(workers: int, address: str | None = None) -> bool:
    """Start (or join) Ray unless it already runs in this process; True when this call started it.

    Without ``address``: a local instance with ``workers`` CPUs and no dashboard; with one
    (``HOST:PORT`` or ``auto``): that cluster.
    """
    try:
        import ray
    except ImportError:
        raise SelbenchError("executor=ray needs Ray: pip install 'selbench[ray]'") from None
    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=int(workers), include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SelbenchError(f"executor=ray: cannot start or reach {address or 'a local Ray instance'} "
                            f"({exc})") from exc
    return True


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def worker_threads(workers: int):
    """Set the BLAS/OpenMP thread variables that spawned worker processes inherit to
    ``cores // workers`` (at least 1) while they start, as Ray does for its workers; without
    it N workers each start one thread per core and contend for the cores."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, int(workers))))
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: threads for k in THREAD_VARS})
    try:
        yield threads
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def map_in_order(fn: Callable, items: Sequence, workers: int = 1, kind: str = "local",
                 address: str | None = None) -> list:
    """``[fn(item) for item in items]``; ``kind=local`` uses ``workers`` spawned processes
    when ``workers > 1``, ``kind=ray`` one Ray task per item (``SelbenchError`` raised in a
    worker comes back as itself)."""
    items = list(items)
    workers = int(workers)
    if workers < 1:
        raise SelbenchError(f"workers must be >= 1, got {workers}")
    if kind not in KINDS:
        raise SelbenchError(f"unknown executor {kind!r}; use one of {', '.join(KINDS)}")
    if not items:
        return []
    if kind == "ray":
        return _ray_map(fn, items, workers, address)
    if workers == 1:
        return [fn(item) for item in items]
    ctx = multiprocessing.get_context("spawn")
    try:  # fn goes to each worker once (initializer), not with every item
        with worker_threads(workers), ProcessPoolExecutor(
                min(workers, len(items)), mp_context=ctx, initializer=_set_fn,
                initargs=(fn,)) as ex:
            return list(ex.map(_call_worker_fn, items))
    except BrokenProcessPool as exc:
        raise SelbenchError(f"a worker process died ({exc}); rerun with fewer workers") from exc


def _ray_map(fn, items, workers, address):
    import ray

    owned = ray_init(workers, address)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        fn_box = [ray.put(fn)]
        try:
            return ray.get([remote.remote(fn_box, item) for item in items])
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SelbenchError):
                raise SelbenchError(str(cause)) from None
            raise SelbenchError(f"a Ray task failed: {cause or exc}") from exc
    finally:
        if owned:
            ray.shutdown()


def _call(fn_box, item):
    return ray_worker_fn(fn_box)(item)


# in a Ray worker: the function of the map being run, by its object reference (one at a time)
_RAY_FN: dict[str, Callable] = {}


def ray_worker_fn(fn_box: list) -> Callable:
    """In a Ray task: the function whose object reference is ``fn_box[0]`` (boxed in a list so
    that Ray passes the reference, not the value), deserialised once per worker process and
    map. A strategy's prepared function can carry the pool's description (~120 KB at 1,280
    shards, tens of ms to unpickle), which Ray would otherwise deserialise for every task."""
    import ray

    key = fn_box[0].hex()
    if key not in _RAY_FN:
        _RAY_FN.clear()
        _RAY_FN[key] = ray.get(fn_box[0])
    return _RAY_FN[key]


_FN: Callable | None = None


def _set_fn(fn: Callable) -> None:
    global _FN
    _FN = fn


def _call_worker_fn(item):
    return _FN(item)
