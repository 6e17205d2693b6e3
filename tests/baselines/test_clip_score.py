"""clip_score: f·g on <arch>_img/_txt, exact top-k, threshold, and DataComp's fraction threshold."""
import numpy as np
import pytest

from pool_fixtures import write_pool
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.pool.writer import write_embeddings
from harness.select.base import Budget, fraction_threshold
from harness.select.engine import make_context, pool_uids, run_selection, strategy_class

# hand-made rows: f, g and f·g
F = [(1, 0), (0.6, 0.8), (0, 1), (0.6, 0.8), (1, 0), (0.8, 0.6)]
G = [(1, 0), (0.8, 0.6), (1, 0), (-0.6, 0.8), (-1, 0), (0.6, -0.8)]
S = [1.0, 0.96, 0.0, 0.28, -1.0, 0.0]
UIDS = ["9" * 32, "8" * 32, "7" * 32, "6" * 32, "5" * 32, "4" * 32]


@pytest.fixture
def pool(tmp_path):
    return write_pool(tmp_path / "pool", np.array(F), np.array(G), uids=UIDS, shard_size=4,
                      dtype=np.float32)


def kept(pool_dir, out):
    uids = pool_uids(Pool.open(pool_dir)).tolist()
    return sorted(uids.index(u) for u in read_subset(out).tolist())


def test_scores_are_the_dot_products(pool):
    p = Pool.open(pool)
    scorer = strategy_class("clip_score")(None, make_context(p))
    got = np.concatenate([scorer.score(s) for s in p.iter_shards(embeddings=scorer.embedding_keys())])
    assert got == pytest.approx(S, abs=1e-6)


def test_fp16_embeddings_are_read(tmp_path):
    root = write_pool(tmp_path / "pool", np.array(F), np.array(G), dtype=np.float16)
    p = Pool.open(root)
    scorer = strategy_class("clip_score")(None, make_context(p))
    shard = next(p.iter_shards(embeddings=scorer.embedding_keys()))
    assert shard.embeddings["l14_img"].dtype == np.float16
    assert scorer.score(shard) == pytest.approx(S, abs=2e-3)


def test_top_k_with_uid_tie_break(pool, tmp_path):
    run_selection(pool, "clip_score", {}, Budget(count=2), 0, tmp_path / "a.npy", progress=False)
    assert kept(pool, tmp_path / "a.npy") == [0, 1]
    # rows 2 and 5 tie at 0.0; row 5 has the smaller uid ("44..." < "77...")
    run_selection(pool, "clip_score", {}, Budget(count=4), 0, tmp_path / "b.npy", progress=False)
    assert kept(pool, tmp_path / "b.npy") == [0, 1, 3, 5]


def test_threshold_mode(pool, tmp_path):
    run_selection(pool, "clip_score", {}, Budget(threshold=0.25), 0, tmp_path / "t.npy", progress=False)
    assert kept(pool, tmp_path / "t.npy") == [0, 1, 3]
    run_selection(pool, "clip_score", {}, Budget(threshold=0.0), 0, tmp_path / "z.npy", progress=False)
    assert kept(pool, tmp_path / "z.npy") == [0, 1, 2, 3, 5]


def test_datacomp_fraction_threshold(tmp_path):
    # scores 0.9, 0.8, ..., 0.0: DataComp's threshold for f = 0.3 is the value at index int(10 * 0.3)
    # of the scores sorted descending, 0.6, and `score >= 0.6` keeps 4 rows; a fraction budget keeps
    # exactly round(0.3 * 10) = 3 and records DataComp's threshold in the manifest.
    s = np.arange(9, -1, -1) / 10
    f = np.stack([np.ones_like(s), 0 * s], 1)
    g = np.stack([s, np.sqrt(1 - s ** 2)], 1)
    root = write_pool(tmp_path / "pool", f, g, dtype=np.float32)
    assert fraction_threshold(s, 0.3) == 0.6
    m = run_selection(root, "clip_score", {}, Budget(fraction=0.3), 0, tmp_path / "f.npy", progress=False)
    assert kept(root, tmp_path / "f.npy") == [0, 1, 2]
    thr = m["extra"]["score_stats"]["datacomp_threshold"]
    assert thr == pytest.approx(0.6, abs=1e-6)
    run_selection(root, "clip_score", {}, Budget(threshold=thr), 0, tmp_path / "d.npy", progress=False)
    assert kept(root, tmp_path / "d.npy") == [0, 1, 2, 3]


def test_embedding_parameter_picks_the_arch(tmp_path):
    # arch l14 ranks rows as S; arch b32 ranks them in reverse
    root = write_pool(tmp_path / "pool", np.array(F), np.array(G), uids=UIDS, dtype=np.float32)
    write_embeddings(root / "00000000.npz", {"l14_img": np.array(F), "l14_txt": np.array(G),
                                             "b32_img": np.array(F), "b32_txt": -np.array(G)},
                     dtype=np.float32)
    m = run_selection(root, "clip_score", {}, Budget(count=1), 0, tmp_path / "l.npy", progress=False)
    assert kept(root, tmp_path / "l.npy") == [0] and m["embedding"] == "l14"
    m = run_selection(root, "clip_score", {"embedding": "b32"}, Budget(count=1), 0, tmp_path / "b.npy",
                      progress=False)
    assert kept(root, tmp_path / "b.npy") == [4] and m["embedding"] == "b32"
    assert m["params"] == {"embedding": "b32"}
