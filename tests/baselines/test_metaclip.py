"""MetaCLIP: matching semantics against the per-entry loop, counts, keep probabilities, budgets."""
from __future__ import annotations

import json

import numpy as np
import pytest

from baselines.metaclip import (MetaCLIP, build_matcher, critical_t, entry_counts,
                                keep_probability, naive_match, spacing, unpack_csr, ShardMatches)
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.select.base import Budget
from harness.select.engine import build_params, make_context, pool_uids, run_selection, select_mask
from pool_fixtures import unit_rows, write_pool

ENTRIES = ["new york", "york", "a b", "b c", "x-ray", "New", "end", "start", "dog", "Dog",
           "c.", "what?", "a", "tab here", "new york", "e.g"]


@pytest.mark.parametrize("text, expected", [
    ("I love new york", [0, 1, 14]),                 # nested entries, duplicate entry
    ("New York", [5]),                               # case-sensitive
    ("a b c", [2, 3, 12]),                           # overlapping entries share a space
    ("start of the end", [6, 7]),                    # first and last word
    ("an x-ray, of a dog.", [4, 8, 12]),             # hyphen kept; punctuation spaced
    ("x-rays", []),                                  # no partial words
    ("Dog?dog!", [8, 9]),                            # punctuation splits words
    ("what? no", []),                                # '?' gets spaced: "what ?" != "what?"
    ("tab\there", [13]),                             # tab -> space
    ("new\nyork\r", [0, 1, 14]),                     # newline and CR -> space
    ("e.g", []),                                     # '.' spaced, so "e.g" never matches
    ("nothing to see", []),
    ("", []),
])
def test_matching_cases(text, expected):
    m = build_matcher(ENTRIES)
    assert m.match(text) == expected
    assert naive_match(text, ENTRIES) == expected


def test_spacing_rule():
    assert spacing("a,b.c;d:e?f!g`h\ti\nj\rk") == " a , b . c ; d : e ? f ! g ` h i j k "


def test_matcher_equals_naive_on_random_captions():
    rng = np.random.default_rng(1)
    vocab = ["a", "b", "c", "new", "york", "dog", "x-ray", ",", ".", "?", "\t", "Dog", "end"]
    entries = sorted({" ".join(rng.choice(vocab[:8], size=rng.integers(1, 3))) for _ in range(40)})
    m = build_matcher(entries)
    for _ in range(300):
        text = "".join(rng.choice(vocab + [" "] * 6, size=rng.integers(0, 15)))
        assert m.match(text) == naive_match(text, entries)


# ----- a 6-row pool with hand-computed counts and probabilities --------------------------
TEXTS = ["a dog", "dog and cat", "red car.", "Dog", "cat", "my dog"]
META = ["dog", "cat", "red car", "bird"]
# matches: [dog], [dog, cat], [red car], [], [cat], [dog]; counts dog=3 cat=2 red car=1 bird=0
COUNTS = [3, 2, 1, 0]
P_T1 = [1 / 3, 1 - (2 / 3) * (1 / 2), 1.0, 0.0, 1 / 2, 1 / 3]  # t = 1


@pytest.fixture
def tiny_pool(tmp_path):
    rng = np.random.default_rng(0)
    img = unit_rows(rng.normal(size=(6, 4)))
    (tmp_path / "meta.json").write_text(json.dumps(META))
    return write_pool(tmp_path / "pool", img, img, texts=TEXTS, shard_size=4, dtype=np.float32,
                      info={"metaclip_metadata": "../meta.json"})


def select(pool_dir, params, budget, seed=0):
    pool = Pool.open(pool_dir)
    ctx = make_context(pool, seed)
    strat = MetaCLIP(build_params(MetaCLIP, params), ctx)
    rng = np.random.Generator(np.random.PCG64(seed))
    return select_mask(strat, pool, budget, pool_uids(pool), rng), ctx.extra


def pool_csr(pool_dir):
    pool = Pool.open(pool_dir)
    fn = ShardMatches(build_matcher(META))
    return unpack_csr([fn(s) for s in pool.iter_shards(("text",))])


def test_counts_and_keep_probabilities(tiny_pool):
    indptr, indices = pool_csr(tiny_pool)
    assert indptr.tolist() == [0, 1, 3, 4, 4, 5, 6]
    assert indices.tolist() == [0, 0, 1, 2, 1, 0]
    counts = entry_counts(indices, len(META))
    assert counts.tolist() == COUNTS
    np.testing.assert_allclose(keep_probability(1.0, indptr, indices, counts), P_T1)
    # t >= every count keeps every matched text for sure
    np.testing.assert_allclose(keep_probability(3.0, indptr, indices, counts), [1, 1, 1, 0, 1, 1])


def test_critical_t_solves_keep_probability(tiny_pool):
    indptr, indices = pool_csr(tiny_pool)
    counts = entry_counts(indices, len(META))
    u = np.array([0.2, 0.5, 0.9, 0.1, 0.25, 0.99])
    t = critical_t(u, indptr, indices, counts, 64)
    # "a dog": t/3 = 0.2 -> 0.6; "cat": t/2 = 0.25 -> 0.5; "red car.": P = t for t <= 1
    np.testing.assert_allclose(t[[0, 2, 4, 5]], [0.6, 0.9, 0.5, 2.97], rtol=1e-12)
    assert t[3] == np.inf  # no match
    # "dog and cat": 1 - (1 - t/3)(1 - t/2) = 0.5
    assert keep_probability(t[1], indptr, indices, counts)[1] == pytest.approx(0.5, abs=1e-12)


def test_fixed_t_natural_budget(tiny_pool):
    mask, extra = select(tiny_pool, {"t": 1}, Budget(natural=True), seed=3)
    u = np.random.Generator(np.random.PCG64(3)).random(6)
    assert mask.tolist() == (u < np.array(P_T1)).tolist()
    assert extra["t"] == 1.0 and extra["matched_texts"] == 5
    assert not mask[3]  # unmatched text never kept


def test_budget_finds_t_exactly_and_reproduces(tiny_pool):
    for k in range(1, 6):
        mask, extra = select(tiny_pool, {}, Budget(count=k), seed=7)
        assert mask.sum() == k and not mask[3]
        again, _ = select(tiny_pool, {"t": extra["t"]}, Budget(natural=True), seed=7)
        assert again.tolist() == mask.tolist()  # the recorded t reproduces the subset
        assert extra["t_kth"] <= extra["t"] <= extra["t_next"]
    # nested: a larger budget keeps a superset (same coins)
    small, _ = select(tiny_pool, {}, Budget(count=2), seed=7)
    big, _ = select(tiny_pool, {}, Budget(count=4), seed=7)
    assert (big | small).tolist() == big.tolist()


def test_unbalanced_t_inf_subsamples_matched_texts_by_coin(tiny_pool):
    # seed 3 coins: u = [0.0856, 0.2368, 0.8013, 0.5822, 0.0941, 0.4331]; row 3 matches nothing,
    # so the matched rows by increasing coin are 0, 4, 1, 5, 2
    expected = {1: [0], 2: [0, 4], 3: [0, 1, 4], 4: [0, 1, 4, 5], 5: [0, 1, 2, 4, 5]}
    for k, rows in expected.items():
        mask, extra = select(tiny_pool, {"t": float("inf")}, Budget(count=k), seed=3)
        assert np.flatnonzero(mask).tolist() == rows
        assert extra["t"] == np.inf and extra["balancing"].startswith("none")
    # budget=none with t = inf keeps every matched text (P = 1 for each)
    mask, _ = select(tiny_pool, {"t": "inf"}, Budget(natural=True), seed=3)
    assert np.flatnonzero(mask).tolist() == [0, 1, 2, 4, 5]
    with pytest.raises(SelbenchError, match="exceeds the 5 texts"):
        select(tiny_pool, {"t": float("inf")}, Budget(count=6))


def test_unbalanced_differs_from_balanced_at_the_same_size(tmp_path):
    # 60 texts match the head entry "dog", 3 the tail entry "owl": balancing to k = 13 keeps
    # about t dog texts and every owl text (t near 10 > count 3), the unbalanced subsample
    # keeps owl texts at the rate 13/63 only
    texts = ["a dog"] * 60 + ["an owl"] * 3
    (tmp_path / "m.json").write_text(json.dumps(["dog", "owl"]))
    img = unit_rows(np.random.default_rng(0).normal(size=(63, 4)))
    pool = write_pool(tmp_path / "p", img, img, texts=texts, shard_size=16)
    params = {"metadata": str(tmp_path / "m.json")}
    owls = np.arange(60, 63)
    for seed in range(5):
        balanced, extra = select(pool, params, Budget(count=13), seed=seed)
        assert balanced.sum() == 13 and balanced[owls].all() and 3 <= extra["t"] < 60
        plain, _ = select(pool, dict(params, t=float("inf")), Budget(count=13), seed=seed)
        assert plain.sum() == 13
    owl_share = np.mean([select(pool, dict(params, t=float("inf")), Budget(count=13), seed=s)[0][owls]
                         for s in range(20)])
    assert owl_share < 0.5  # expected 13/63 = 0.21


def test_same_seed_same_subset_other_seed_differs(tmp_path):
    rng = np.random.default_rng(0)
    vocab = ["dog", "cat", "red", "car", "tree", "sky", "a", "the"]
    texts = [" ".join(rng.choice(vocab, size=4)) for _ in range(200)]
    (tmp_path / "m.json").write_text(json.dumps(["dog", "cat", "red car", "tree", "sky"]))
    img = unit_rows(rng.normal(size=(200, 4)))
    pool = write_pool(tmp_path / "p", img, img, texts=texts, shard_size=64)
    params = {"metadata": str(tmp_path / "m.json")}
    a, ea = select(pool, params, Budget(fraction=0.25), seed=0)
    b, _ = select(pool, params, Budget(fraction=0.25), seed=0)
    c, _ = select(pool, params, Budget(fraction=0.25), seed=1)
    assert a.sum() == 50 and a.tolist() == b.tolist() and a.tolist() != c.tolist()
    assert ea["t"] > 0


def test_run_selection_end_to_end(tiny_pool, tmp_path):
    out = tmp_path / "sub.npy"
    manifest = run_selection(tiny_pool, "metaclip", {}, Budget(count=3), 0, out, progress=False)
    assert manifest["selected"] == 3 and "t" in manifest["extra"]
    assert len(np.load(out)) == 3
    plain = run_selection(tiny_pool, "metaclip", {"t": "inf"}, Budget(count=3), 0,
                          tmp_path / "plain.npy", progress=False)
    assert plain["selected"] == 3 and plain["params"]["t"] == "inf" and plain["extra"]["t"] == "inf"


# ----- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("content, message", [
    ("[]", "empty"),
    ('{"a": 1}', "JSON list of strings"),
    ('["dog", 3]', "entry 1 is int"),
    ("[not json", "not valid JSON"),
])
def test_bad_metadata(tiny_pool, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SelbenchError, match=message) as exc:
        select(tiny_pool, {"metadata": str(path)}, Budget(count=2))
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_missing_metadata(tiny_pool, tmp_path):
    with pytest.raises(SelbenchError, match="not found"):
        select(tiny_pool, {"metadata": str(tmp_path / "nope.json")}, Budget(count=2))
    rng = np.random.default_rng(0)
    img = unit_rows(rng.normal(size=(3, 4)))
    bare = write_pool(tmp_path / "bare", img, img)
    with pytest.raises(SelbenchError, match="strategy.metadata"):
        select(bare, {}, Budget(count=2))


def test_budget_errors(tiny_pool):
    with pytest.raises(SelbenchError, match="exceeds the 5 texts"):
        select(tiny_pool, {}, Budget(count=6))
    with pytest.raises(SelbenchError, match="needs strategy.t"):
        select(tiny_pool, {}, Budget(natural=True))
    with pytest.raises(SelbenchError, match="found by bisection"):
        select(tiny_pool, {"t": 2}, Budget(count=2))
    with pytest.raises(SelbenchError, match="must be > 0"):
        select(tiny_pool, {"t": float("-inf")}, Budget(natural=True))
    with pytest.raises(SelbenchError, match="set selector"):
        select(tiny_pool, {}, Budget(threshold=0.5))


def test_shard_size_does_not_change_the_subset(tmp_path):
    rng = np.random.default_rng(2)
    texts = [" ".join(rng.choice(["dog", "cat", "red", "car", "bird"], size=3)) for _ in range(40)]
    img = unit_rows(rng.normal(size=(40, 4)))
    (tmp_path / "m.json").write_text(json.dumps(META))
    params = {"metadata": str(tmp_path / "m.json")}
    masks = [select(write_pool(tmp_path / f"p{s}", img, img, texts=texts, shard_size=s), params,
                    Budget(count=12), seed=4)[0] for s in (7, 40)]
    assert masks[0].sum() == 12 and masks[0].tolist() == masks[1].tolist()


@pytest.mark.parametrize("budget,t", [(Budget(count=7), None), (Budget(fraction=0.2), None),
                                      (Budget(natural=True), 4.0), (Budget(count=7), float("inf")),
                                      (Budget(fraction=0.2), float("inf"))])
def test_task_path_equals_in_memory_select(tmp_path, budget, t):
    """``select_to_runs`` (per-shard tasks, used by the engine) writes the bytes of ``select``."""
    from pool_fixtures import make_random_pool
    from harness.pool.layout import Pool
    from harness.pool.uid import sort_uid_array
    from harness.select.engine import (build_strategy, jsonable, make_context, pool_uids, run_selection,
                                       select_mask)

    root = make_random_pool(tmp_path / "pool", n=90, shard_size=16)
    (tmp_path / "meta.json").write_text(json.dumps(["caption", "number 1", "number 2", "number 5"]))
    params = {"metadata": str(tmp_path / "meta.json"), **({"t": t} if t is not None else {})}
    manifest = run_selection(root, "metaclip", params, budget, 3, tmp_path / "tasks.npy", progress=False)
    pool = Pool.open(root)
    ctx = make_context(pool, 3)
    uids = pool_uids(pool)
    mask = select_mask(build_strategy("metaclip", params, ctx), pool, budget, uids,
                       np.random.Generator(np.random.PCG64(3)))
    np.save(tmp_path / "memory.npy", sort_uid_array(uids[mask]))
    assert (tmp_path / "tasks.npy").read_bytes() == (tmp_path / "memory.npy").read_bytes()
    assert manifest["extra"] == json.loads(json.dumps(jsonable(ctx.extra)))  # non-finite t: "inf"
    assert 0 < manifest["selected"] < 90
