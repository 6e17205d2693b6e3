"""clip_score: f·g on <arch>_img/_txt, exact top-k, threshold, and DataComp's fraction threshold."""
import numpy as np
import pytest

from pool_fixtures import write_pool
from harness.errors import SelbenchError
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
    cls = strategy_class("clip_score")
    scorer = cls(cls.Params(source="embeddings"), make_context(p))
    got = np.concatenate([scorer.score(s) for s in p.iter_shards(embeddings=scorer.embedding_keys())])
    assert got == pytest.approx(S, abs=1e-6)


def test_fp16_embeddings_are_read(tmp_path):
    root = write_pool(tmp_path / "pool", np.array(F), np.array(G), dtype=np.float16)
    p = Pool.open(root)
    cls = strategy_class("clip_score")
    scorer = cls(cls.Params(source="embeddings"), make_context(p))
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
    assert m["params"] == {"embedding": "b32", "source": "auto", "datacomp_fraction": None}


# ----- the stored score column and DataComp's fraction rule (issue 10, item 2) -----------
def column_pool(root, scores, uids=None, dtype="float32", with_npz=True):
    """A pool whose parquet carries ``clip_l14_similarity_score`` = ``scores`` and whose
    embeddings (when written) score the rows in the REVERSE order, so a test sees which is read."""
    import pandas as pd

    from harness.pool.writer import write_metadata, write_pool_info

    n = len(scores)
    root.mkdir(parents=True)
    uids = uids or [f"{i:032x}" for i in range(1, n + 1)]
    write_metadata(root / "00000000.parquet", pd.DataFrame(
        {"uid": uids, "text": ["a caption"] * n,
         "clip_l14_similarity_score": np.asarray(scores, dtype=dtype)}))
    if with_npz:
        s = -np.asarray(scores, dtype=np.float64) / 2
        f = np.stack([np.ones(n), np.zeros(n)], 1)
        g = np.stack([s, np.sqrt(1 - s ** 2)], 1)
        write_embeddings(root / "00000000.npz", {"l14_img": f, "l14_txt": g}, dtype=np.float32)
    write_pool_info(root, {"name": "col", "embedding": "l14"})
    return root


def test_the_stored_column_is_used_when_present(tmp_path):
    root = column_pool(tmp_path / "pool", [0.1, 0.5, 0.3, 0.9, 0.7])
    m = run_selection(root, "clip_score", {}, Budget(count=2), 0, tmp_path / "c.npy", progress=False)
    assert kept(root, tmp_path / "c.npy") == [3, 4]
    assert m["extra"]["score_source"] == "column clip_l14_similarity_score"
    assert m["embedding_keys"] == []
    (root / "00000000.npz").unlink()  # still a broken pool: select applies `pool validate`'s rules
    with pytest.raises(SelbenchError, match="00000000.npz: embeddings file missing"):
        run_selection(root, "clip_score", {}, Budget(count=2), 0, tmp_path / "d.npy", progress=False)


def test_embeddings_recompute_when_asked_or_without_a_column(tmp_path):
    root = column_pool(tmp_path / "pool", [0.1, 0.5, 0.3, 0.9, 0.7])
    m = run_selection(root, "clip_score", {"source": "embeddings"}, Budget(count=2), 0,
                      tmp_path / "e.npy", progress=False)
    assert kept(root, tmp_path / "e.npy") == [0, 2]  # the embeddings rank in reverse
    assert m["extra"]["score_source"].startswith("recomputed")
    # the hand-made pool of the tests above has no l14 column under arch b32: recomputed
    rootb = write_pool(tmp_path / "b", np.array(F), np.array(G), uids=UIDS, arch="b32", dtype=np.float32)
    import pyarrow.parquet as pq
    t = pq.read_table(rootb / "00000000.parquet").drop(["clip_b32_similarity_score"])
    pq.write_table(t, rootb / "00000000.parquet")
    m = run_selection(rootb, "clip_score", {}, Budget(count=2), 0, tmp_path / "f.npy", progress=False)
    assert kept(rootb, tmp_path / "f.npy") == [0, 1]
    assert m["extra"]["score_source"] == "recomputed from b32_img . b32_txt"
    with pytest.raises(SelbenchError, match="clip_b32_similarity_score is missing"):
        run_selection(rootb, "clip_score", {"source": "column"}, Budget(count=2), 0,
                      tmp_path / "g.npy", progress=False)


def test_datacomp_rule_keeps_int_nf_plus_one_rows_and_ties(tmp_path):
    # 10 rows: 0.9, 0.8, 0.7, 0.6, 0.6, 0.5, ... f = 0.3: int(10 * 0.3) = 3, the sorted value at
    # index 3 is 0.6, so DataComp keeps score >= 0.6: 4 rows (int(N f) + 1) plus the tie = 5.
    s = [0.9, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    root = column_pool(tmp_path / "pool", s, dtype="float64")
    m = run_selection(root, "clip_score", {"datacomp_fraction": 0.3}, Budget(natural=True), 0,
                      tmp_path / "d.npy", progress=False)
    assert kept(root, tmp_path / "d.npy") == [0, 1, 2, 3, 4]
    assert m["extra"]["datacomp_threshold"] == 0.6 and m["selected"] == 5
    # exact budgets keep exactly k: round(0.3 * 10) = 3
    run_selection(root, "clip_score", {}, Budget(fraction=0.3), 0, tmp_path / "e.npy", progress=False)
    assert kept(root, tmp_path / "e.npy") == [0, 1, 2]


def test_datacomp_rule_cuts_the_score_runs_not_a_pool_array(tmp_path, monkeypatch):
    # budget=natural goes through the per-shard runs (no pool-wide score array on the driver)
    # and keeps what natural_mask keeps over all the scores
    import harness.select.engine as engine

    rng = np.random.default_rng(4)
    s = np.round(rng.uniform(size=57), 2).tolist()  # ties
    root = column_pool(tmp_path / "pool", s)
    cls = strategy_class("clip_score")
    want = cls(cls.Params(datacomp_fraction=0.3)).natural_mask(np.asarray(s, np.float32))

    def refuse(*args, **kwargs):
        raise AssertionError("score_pool called: the natural budget built a pool-wide array")

    monkeypatch.setattr(engine, "score_pool", refuse)
    m = run_selection(root, "clip_score", {"datacomp_fraction": 0.3}, Budget(natural=True), 0,
                      tmp_path / "d.npy", progress=False)
    assert kept(root, tmp_path / "d.npy") == np.flatnonzero(want).tolist()
    assert m["selected"] == int(want.sum())
    assert m["extra"]["datacomp_threshold"] == float(np.sort(np.asarray(s, np.float32))[::-1][int(57 * 0.3)])


def test_a_float64_column_is_compared_in_float64(tmp_path):
    # two values equal in float32 but not in float64: the rule must not merge them into a tie
    a = 0.30000000000000004
    b = 0.3
    assert np.float32(a) == np.float32(b) and a > b
    root = column_pool(tmp_path / "pool", [a, b, 0.1, 0.0], dtype="float64")
    m = run_selection(root, "clip_score", {"datacomp_fraction": 0.25}, Budget(natural=True), 0,
                      tmp_path / "d.npy", progress=False)
    assert kept(root, tmp_path / "d.npy") == [0, 1]  # index int(4 * 0.25) = 1 -> b; a, b kept
    m = run_selection(root, "clip_score", {"datacomp_fraction": 0.01}, Budget(natural=True), 0,
                      tmp_path / "z.npy", progress=False)
    assert kept(root, tmp_path / "z.npy") == [0]  # index 0 -> a alone


def test_datacomp_rule_only_with_a_natural_budget(tmp_path):
    root = column_pool(tmp_path / "pool", [0.1, 0.5, 0.3, 0.9, 0.7])
    with pytest.raises(SelbenchError, match="budget=natural"):
        run_selection(root, "clip_score", {"datacomp_fraction": 0.3}, Budget(fraction=0.3), 0,
                      tmp_path / "a.npy", progress=False)
    with pytest.raises(SelbenchError, match="no natural size"):
        run_selection(root, "clip_score", {}, Budget(natural=True), 0, tmp_path / "b.npy",
                      progress=False)
    with pytest.raises(SelbenchError, match="outside"):
        run_selection(root, "clip_score", {"datacomp_fraction": 1.5}, Budget(natural=True), 0,
                      tmp_path / "c.npy", progress=False)
