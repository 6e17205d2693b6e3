"""Combinators intersect / union / then, on a hand-made pool with two embedding archs."""
import numpy as np
import pytest

from pool_fixtures import write_pool
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.select.base import Budget
from harness.select.combinators import then_select
from harness.select.engine import build_strategy, make_context, pool_uids, run_selection

A = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]  # clip score under arch "aa"
B = [0.1, 0.5, 0.9, 0.3, 0.8, 0.2, 0.7, 0.6]  # clip score under arch "bb"


def two_arch_pool(root):
    """8 rows, 3 shards; arch aa scores rows as A, arch bb as B (f·g)."""
    def pair(s):
        s = np.asarray(s)
        return np.stack([np.ones_like(s), 0 * s], 1), np.stack([s, np.sqrt(1 - s ** 2)], 1)
    fa, ga = pair(A)
    fb, gb = pair(B)
    write_pool(root, fa, ga, arch="aa", shard_size=3, dtype=np.float32)
    from harness.pool.writer import write_embeddings
    for i, start in enumerate(range(0, 8, 3)):
        sl = slice(start, start + 3)
        write_embeddings(root / f"{i:08d}.npz", {"aa_img": fa[sl], "aa_txt": ga[sl],
                                                 "bb_img": fb[sl], "bb_txt": gb[sl]}, dtype=np.float32)
    return root


@pytest.fixture
def pool(tmp_path):
    return two_arch_pool(tmp_path / "pool")


def kept_rows(pool_dir, out):
    uids = pool_uids(Pool.open(pool_dir))
    kept = set(read_subset(out).tolist())
    return sorted(i for i, u in enumerate(uids.tolist()) if u in kept)


CLIP_A = {"name": "clip_score", "embedding": "aa", "source": "embeddings"}
CLIP_B = {"name": "clip_score", "embedding": "bb", "source": "embeddings"}


def test_then_keeps_a_fraction_then_ranks_by_b(pool, tmp_path):
    # a: top 50% of 8 by A = rows 0-3; b ranks them by B: row 2 (0.9), row 1 (0.5), row 3, row 0
    out = tmp_path / "t.npy"
    m = run_selection(pool, "then", {"a": CLIP_A, "b": CLIP_B, "a_fraction": 0.5},
                      Budget(count=2), 0, out, progress=False)
    assert kept_rows(pool, out) == [1, 2]
    assert m["extra"]["a_kept"] == 4 and m["extra"]["combined"] == 2
    assert m["embedding_keys"] == ["aa_img", "aa_txt", "bb_img", "bb_txt"] and m["embedding"] is None
    # the budget counts on the whole pool: 25% of 8 rows
    run_selection(pool, "then", {"a": CLIP_A, "b": CLIP_B, "a_fraction": 0.5},
                  Budget(fraction=0.25), 0, tmp_path / "f.npy", progress=False)
    assert kept_rows(pool, tmp_path / "f.npy") == [1, 2]
    run_selection(pool, "then", {"a": CLIP_A, "b": CLIP_B, "a_fraction": 0.5},
                  Budget(threshold=0.3), 0, tmp_path / "h.npy", progress=False)
    assert kept_rows(pool, tmp_path / "h.npy") == [1, 2, 3]


def test_then_select_function(pool):
    p = Pool.open(pool)
    ctx = make_context(p)
    a = build_strategy("clip_score", {"embedding": "bb"}, ctx)
    b = build_strategy("clip_score", {"embedding": "aa"}, ctx)
    # a: top 3 of 8 by B (round(0.375 * 8) = 3) = rows 2, 4, 6; b keeps the best 2 by A: rows 2, 4
    mask = then_select(p, a, 0.375, b, 2)
    assert np.flatnonzero(mask).tolist() == [2, 4]
    with pytest.raises(SelbenchError, match="asks for 4 rows but a .clip_score. keeps only 3"):
        then_select(p, a, 0.375, b, 4, pool_uids(p))
    with pytest.raises(SelbenchError, match="b .random. must be a scorer"):
        then_select(p, a, 0.5, build_strategy("random", {}, ctx), 2)


def test_intersect_and_union_natural(pool, tmp_path):
    # a keeps top 4 by A = {0,1,2,3}; b keeps top 4 by B = {2,4,6,7}
    spec = {"a": dict(CLIP_A, budget={"count": 4}), "b": dict(CLIP_B, budget={"fraction": 0.5})}
    run_selection(pool, "intersect", spec, Budget(natural=True), 0, tmp_path / "i.npy", progress=False)
    assert kept_rows(pool, tmp_path / "i.npy") == [2]
    m = run_selection(pool, "union", spec, Budget(natural=True), 0, tmp_path / "u.npy", progress=False)
    assert kept_rows(pool, tmp_path / "u.npy") == [0, 1, 2, 3, 4, 6, 7]
    assert (m["extra"]["a_kept"], m["extra"]["b_kept"], m["extra"]["combined"]) == (4, 4, 7)


def test_union_cut_to_budget_by_rank_by(pool, tmp_path):
    spec = {"a": dict(CLIP_A, budget={"count": 4}), "b": dict(CLIP_B, budget={"count": 4})}
    run_selection(pool, "union", dict(spec, rank_by="a"), Budget(count=3), 0, tmp_path / "a.npy",
                  progress=False)
    assert kept_rows(pool, tmp_path / "a.npy") == [0, 1, 2]
    run_selection(pool, "union", dict(spec, rank_by="b"), Budget(count=3), 0, tmp_path / "b.npy",
                  progress=False)
    assert kept_rows(pool, tmp_path / "b.npy") == [2, 4, 6]


def test_intersect_with_a_set_selector(pool, tmp_path):
    # random keeps all 8 under count=8, so the intersection is b's own cut, ranked by b
    spec = {"a": {"name": "random", "budget": {"count": 8}}, "b": dict(CLIP_B, budget={"count": 5})}
    run_selection(pool, "intersect", spec, Budget(count=2), 0, tmp_path / "r.npy", progress=False)
    assert kept_rows(pool, tmp_path / "r.npy") == [2, 4]


@pytest.mark.parametrize("name, params, budget, word", [
    ("then", {"a": {}, "b": CLIP_B}, Budget(count=2), "strategy.a.name is required"),
    ("then", {"a": dict(CLIP_A, budget={"count": 2}), "b": CLIP_B}, Budget(count=2),
     "strategy.a.budget is not used"),
    ("then", {"a": CLIP_A, "b": {"name": "clip_scor"}}, Budget(count=2), "did you mean clip_score"),
    ("then", {"a": CLIP_A, "b": dict(CLIP_B, alpha=1)}, Budget(count=2), r"unknown parameter\(s\) alpha"),
    ("union", {"a": dict(CLIP_A, budget={"count": 2}), "b": dict(CLIP_B, budget={"count": 2})},
     Budget(threshold=0.5), "threshold applies to scorers; union is a set selector"),
    ("intersect", {"a": dict(CLIP_A, budget={"count": 4}), "b": dict(CLIP_B, budget={"count": 4})},
     Budget(count=2), "asks for 2 rows but the combination keeps only 1"),
    ("intersect", {"a": CLIP_A, "b": dict(CLIP_B, budget={"count": 4})}, Budget(count=2),
     "operand a .clip_score.: clip_score has no natural size"),
    ("union", {"a": dict(CLIP_A, budget={"count": 4}), "b": CLIP_B, "rank_by": "c"}, Budget(count=2),
     "rank_by must be a or b"),
    ("union", {"a": dict(CLIP_A, budget={"count": 9}), "b": dict(CLIP_B, budget={"count": 2})},
     Budget(count=2), r"operand a .clip_score.: budget.count=9 is outside 1..8"),
    ("union", {"a": dict(CLIP_A, budget={"size": 9}), "b": CLIP_B}, Budget(count=2),
     "unknown budget key"),
])
def test_combinator_errors(pool, tmp_path, name, params, budget, word):
    out = tmp_path / "x.npy"
    with pytest.raises(SelbenchError, match=word):
        run_selection(pool, name, params, budget, 0, out, progress=False)
    assert not out.exists()
