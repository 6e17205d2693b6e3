"""Preprocessed evaluation batches kept in memory across evaluations in one process.

``selbench run`` evaluates one checkpoint per cell on the same suite, and every cell's
preprocessing (JPEG decode, resize, crop, normalise) of the same test split gives the same
tensors. Batches are recorded during the first full pass and replayed afterwards when
the shards (path, size, mtime), the transform, the batch size and the collation are the
same. Only splits whose tensors fit the cap are kept (the tiny suite: ~75 MB); a
real-scale split such as ImageNet's is streamed every time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator

CAP_BYTES = 512 * 2**20   # all cached splits together

_CACHE: dict[tuple, list] = {}


def _nbytes(batch) -> int:
    items = batch if isinstance(batch, (tuple, list)) else (batch,)
    return sum(x.numel() * x.element_size() for x in items if hasattr(x, "element_size"))


def cache_key(task_dir: Path, transform, batch_size: int, captions: bool) -> tuple:
    """What makes two passes over a split give the same batches."""
    shards = sorted((Path(task_dir) / "test").glob("*.tar"))
    stats = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in shards)
    return (str(Path(task_dir).resolve()), stats, repr(transform), int(batch_size), bool(captions))


class _Recorder:
    """Iterate ``make_loader()``, keeping its batches; store them when a pass completes under the cap."""

    def __init__(self, make_loader: Callable[[], Iterable], key: tuple):
        self.make_loader, self.key = make_loader, key

    def __iter__(self) -> Iterator:
        kept, size = [], sum(_nbytes(b) for batches in _CACHE.values() for b in batches)
        for batch in self.make_loader():
            if kept is not None:
                size += _nbytes(batch)
                if size <= CAP_BYTES:
                    kept.append(batch)
                else:
                    kept = None
            yield batch
        if kept is not None:
            _CACHE[self.key] = kept


def cached(make_loader: Callable[[], Iterable], key: tuple) -> Iterable:
    """The recorded batches of ``key`` if a full pass was kept, else ``make_loader()``'s batches
    (recording them); the loader is only built on a miss."""
    if key in _CACHE:
        return list(_CACHE[key])
    return _Recorder(make_loader, key)


def clear() -> None:
    """Forget every recorded split."""
    _CACHE.clear()
