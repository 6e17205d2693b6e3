"""Preprocessed evaluation batches replayed across evaluations in one process."""
import os

import pytest

from harness.evaluate import batch_cache, datasets
from harness.evaluate.runner import evaluate

from evaluate_fixtures import save_minimal_checkpoint


def _no_loader(*args, **kwargs):
    pytest.fail("a loader was built again instead of replaying the split")


@pytest.fixture(autouse=True)
def _empty_cache():
    batch_cache.clear()
    yield
    batch_cache.clear()


def test_second_evaluation_replays_the_same_batches(tmp_path, tiny_evalsets, minimal_checkpoint,
                                                     monkeypatch):
    tasks = ["count", "retrieval"]
    first = evaluate(minimal_checkpoint, "tiny", tiny_evalsets, tmp_path / "a", tasks=tasks, batch_size=5)
    assert len(batch_cache._CACHE) == 2
    monkeypatch.setattr(datasets, "loader", _no_loader)
    again = evaluate(minimal_checkpoint, "tiny", tiny_evalsets, tmp_path / "b", tasks=tasks, batch_size=5)
    assert [ln["metrics"] for ln in again] == [ln["metrics"] for ln in first]


def test_key_follows_shards_transform_and_batch_size(tiny_evalsets):
    task_dir = tiny_evalsets / "count"
    key = batch_cache.cache_key(task_dir, "T", 5, False)
    assert batch_cache.cache_key(task_dir, "T", 5, False) == key
    assert batch_cache.cache_key(task_dir, "U", 5, False) != key
    assert batch_cache.cache_key(task_dir, "T", 6, False) != key
    shard = next((task_dir / "test").glob("*.tar"))
    st = shard.stat()
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    try:
        assert batch_cache.cache_key(task_dir, "T", 5, False) != key
    finally:
        os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_partial_passes_and_splits_over_the_cap_are_not_kept(monkeypatch):
    import torch

    batches = [torch.zeros(4, 8) for _ in range(3)]          # 128 bytes each
    it = iter(batch_cache.cached(lambda: batches, ("partial",)))
    next(it)
    assert ("partial",) not in batch_cache._CACHE          # stopped early: nothing kept
    assert list(batch_cache.cached(lambda: batches, ("full",))) == batches
    assert batch_cache.cached(_no_loader, ("full",)) == batches  # replayed, no loader built
    monkeypatch.setattr(batch_cache, "CAP_BYTES", 128 * 3 + 100)
    assert list(batch_cache.cached(lambda: batches, ("big",))) == batches
    assert ("big",) not in batch_cache._CACHE              # with "full" it exceeds the cap
