"""The selection engine: parameters, masks, manifests, skipping finished runs, atomic output."""
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from pool_fixtures import write_pool
from harness.errors import SelbenchError
from harness.io import sha256_file
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.pool.uid import uids_to_array
from harness.select.base import Budget, Scorer, SetSelector
from harness.select.engine import (build_params, make_context, pool_uids, run_selection,
                                   select_mask, strategy_class)


def hand_pool(root, scores, uids=None, shard_size=None, arch="l14"):
    """A pool whose clip score (f·g) of row i is ``scores[i]`` (2-d fp32 embeddings)."""
    s = np.asarray(scores, dtype=np.float64)
    img = np.stack([np.ones_like(s), np.zeros_like(s)], 1)
    txt = np.stack([s, np.sqrt(1 - s ** 2)], 1)
    return write_pool(root, img, txt, uids=uids, shard_size=shard_size, arch=arch, dtype=np.float32)


def clip_scores(pool_dir):
    """f·g of every row, in pool order, computed here independently of the engine."""
    pool = Pool.open(pool_dir)
    parts = [(s.embeddings["l14_img"].astype(np.float32) * s.embeddings["l14_txt"]).sum(1)
             for s in pool.iter_shards(embeddings=["l14_img", "l14_txt"])]
    return np.concatenate(parts)


def test_manifest_records_the_selection(random_pool, tmp_path):
    out = tmp_path / "sel" / "clip.npy"
    m = run_selection(random_pool, "clip_score", {}, Budget(fraction=0.3), 0, out, progress=False)
    pool = Pool.open(random_pool)
    assert m["strategy"] == "clip_score" and m["shape"] == "scorer"
    assert m["params"] == {"embedding": None, "source": "auto", "datacomp_fraction": None}
    assert m["embedding"] == "l14"
    assert m["embedding_keys"] == []  # the pool's clip_l14_similarity_score column is read
    assert m["extra"]["score_source"] == "column clip_l14_similarity_score"
    assert m["budget"] == {"fraction": 0.3} and m["seed"] == 0
    assert m["pool_fingerprint"] == pool.fingerprint and m["pool"]["rows"] == 200
    assert "fingerprint" not in m["pool"] and m["schema"] == 1
    assert m["pool"]["path"] == str(random_pool.resolve())
    assert m["selected"] == 60 and len(read_subset(out)) == 60
    assert m["subset"] == "clip.npy" and m["subset_sha256"] == sha256_file(out)
    assert m["versions"]["numpy"] == np.__version__ and m["wall_time_s"] >= 0
    assert json.loads(out.with_suffix(".json").read_text()) == m
    scores = clip_scores(random_pool)
    assert m["extra"]["score_stats"]["cutoff"] == pytest.approx(np.sort(scores)[::-1][59], abs=1e-6)
    assert "audit" not in m


def test_finished_selection_is_skipped_and_changes_recompute(random_pool, tmp_path):
    out = tmp_path / "r.npy"
    first = run_selection(random_pool, "random", {}, Budget(count=20), 3, out, progress=False)
    mtime = out.stat().st_mtime_ns
    again = run_selection(random_pool, "random", {}, Budget(count=20), 3, out, progress=False)
    assert again == first and out.stat().st_mtime_ns == mtime
    other = run_selection(random_pool, "random", {}, Budget(count=20), 4, out, progress=False)
    assert other["seed"] == 4 and other["subset_sha256"] != first["subset_sha256"]
    # a subset file that no longer matches its manifest is recomputed
    np.save(out, np.zeros(1, dtype="u8,u8"))
    redo = run_selection(random_pool, "random", {}, Budget(count=20), 4, out, progress=False)
    assert redo["subset_sha256"] == other["subset_sha256"] == sha256_file(out)


def test_a_new_strategy_version_recomputes_its_subset(random_pool, tmp_path, monkeypatch):
    out = tmp_path / "r.npy"
    first = run_selection(random_pool, "random", {}, Budget(count=20), 3, out, progress=False)
    cls = strategy_class("random")
    assert first["version"] == cls.version
    mtime = out.with_suffix(".json").stat().st_mtime_ns
    monkeypatch.setattr(cls, "version", cls.version + "-fixed")
    redo = run_selection(random_pool, "random", {}, Budget(count=20), 3, out, progress=False)
    assert redo["version"] == cls.version and out.with_suffix(".json").stat().st_mtime_ns != mtime


def test_failed_run_leaves_no_file(tmp_path):
    img = np.eye(4, 3)[:, :3] + 0.1
    img[2, 1] = np.nan
    pool = write_pool(tmp_path / "pool", img, img, dtype=np.float32)
    out = tmp_path / "out" / "s.npy"
    with pytest.raises(SelbenchError, match=r"00000000\.npz: l14_img row 2: non-finite"):
        run_selection(pool, "clip_score", {"source": "embeddings"}, Budget(count=2), 0, out,
                      progress=False)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_out_must_be_npy(random_pool, tmp_path):
    with pytest.raises(SelbenchError, match=r"must end in \.npy"):
        run_selection(random_pool, "random", {}, Budget(count=2), 0, tmp_path / "x.txt")


@dataclass
class _P:
    n: int = 3
    p: float = 2.0
    name: str | None = None
    on: bool = False


class _Dummy(Scorer):
    Params = _P
    name = "dummy"


def test_build_params_type_checks():
    assert build_params(_Dummy, {"n": "5", "p": "inf", "on": "true"}) == _P(5, float("inf"), None, True)
    with pytest.raises(SelbenchError, match=r"unknown parameter\(s\) q for strategy dummy "
                                            r"\(valid: n, p, name, on\)"):
        build_params(_Dummy, {"q": 1})
    with pytest.raises(SelbenchError, match="dummy: bad parameter value: .*'abc'"):
        build_params(_Dummy, {"n": "abc"})


def test_unknown_strategy_lists_closest():
    with pytest.raises(SelbenchError, match="unknown strategy 'clip_scor'; did you mean clip_score"):
        strategy_class("clip_scor")


class _Fixed(SetSelector):
    """Returns whatever mask it was given."""
    name = "fixed"

    def __init__(self, mask, context):
        super().__init__(None, context)
        self.mask = mask

    def select(self, pool, budget, rng):
        return self.mask


@pytest.mark.parametrize("mask, budget, word", [
    (np.ones(200, bool), Budget(count=10), "selected 200 rows but the budget asks for exactly 10"),
    (np.ones(199, bool), Budget(count=10), r"expected bool \(200,\)"),
    (np.ones(200, np.int8), Budget(count=10), r"int8 mask"),
    (np.zeros(200, bool), Budget(natural=True), "kept no row"),
    (np.ones(200, bool), Budget(threshold=0.5), "threshold applies to scorers"),
])
def test_set_selector_masks_are_checked(random_pool, mask, budget, word):
    pool = Pool.open(random_pool)
    sel = _Fixed(mask, make_context(pool))
    with pytest.raises(SelbenchError, match=word):
        select_mask(sel, pool, budget, pool_uids(pool), np.random.default_rng(0))


def test_scorer_without_natural_size_fails_before_scoring(random_pool, tmp_path):
    with pytest.raises(SelbenchError, match="clip_score has no natural size"):
        run_selection(random_pool, "clip_score", {}, Budget(natural=True), 0, tmp_path / "a.npy",
                      progress=False)


def test_threshold_keeping_nothing_is_an_error(tmp_path):
    pool = hand_pool(tmp_path / "pool", [0.1, 0.2, 0.3])
    with pytest.raises(SelbenchError, match="kept no row"):
        run_selection(pool, "clip_score", {}, Budget(threshold=0.9), 0, tmp_path / "a.npy",
                      progress=False)
    assert not (tmp_path / "a.npy").exists()


def test_top_k_and_threshold_on_hand_scores(tmp_path):
    scores = [0.5, 0.9, 0.1, 0.7, 0.3, 0.8]
    pool = hand_pool(tmp_path / "pool", scores, shard_size=4)
    uids = pool_uids(Pool.open(pool))
    run_selection(pool, "clip_score", {}, Budget(count=3), 0, tmp_path / "k.npy", progress=False)
    expect = np.sort(uids[[1, 5, 3]])
    assert read_subset(tmp_path / "k.npy").tolist() == expect.tolist()
    run_selection(pool, "clip_score", {}, Budget(threshold=0.5), 0, tmp_path / "t.npy", progress=False)
    assert read_subset(tmp_path / "t.npy").tolist() == np.sort(uids[[0, 1, 3, 5]]).tolist()


def test_ties_are_broken_by_uid_ascending(tmp_path):
    uids = ["ff" * 16, "00" * 15 + "02", "00" * 15 + "01", "80" + "00" * 15, "00" * 16]
    pool = hand_pool(tmp_path / "pool", [0.5, 0.5, 0.5, 0.9, 0.5], uids=uids, shard_size=2)
    run_selection(pool, "clip_score", {}, Budget(count=3), 0, tmp_path / "k.npy", progress=False)
    kept = read_subset(tmp_path / "k.npy")
    assert kept.tolist() == np.sort(uids_to_array([uids[4], uids[2], uids[3]])).tolist()


def test_audit_is_reported_from_ground_truth(tmp_path):
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    pool = hand_pool(tmp_path / "pool", scores)
    hexes = [r for r in pd.read_parquet(pool / "00000000.parquet")["uid"]]
    defect = ["clean", "clean", "mismatch", "clean", None, "blank", "mismatch", "clean", "blank", "clean"]
    concept = ["dog"] * 6 + ["cat", "cat", "fox", None]
    pd.DataFrame({"uid": hexes[::-1], "defect": defect[::-1], "concept": concept[::-1]}).to_parquet(
        pool / "audit.parquet")
    m = run_selection(pool, "clip_score", {}, Budget(count=4), 0, tmp_path / "a.npy", progress=False)
    audit = m["audit"]  # kept rows: 0, 1, 2, 3
    assert audit["audited_rows"] == 10 and audit["kept"] == 0.4
    assert audit["defect_rows"] == {"blank": 2, "clean": 6, "mismatch": 2}
    assert audit["defects_kept"] == {"blank": 0.0, "clean": 0.5, "mismatch": 0.5}
    # concepts by frequency: dog (6), cat (2), fox (1): head = [dog], tail = [fox]
    assert audit["head_concepts"] == 1 and audit["tail_concepts"] == 1
    assert audit["concepts_kept"] == {"head": round(4 / 6, 6), "tail": 0.0}
    assert audit["concepts_covered"] == round(1 / 3, 6)


def _off_norm_pool(root):
    """A random pool whose row 3 of shard 1 (pool row 67) has l14_img of norm 2."""
    from pool_fixtures import make_random_pool

    root = make_random_pool(root)
    npz = root / "00000001.npz"
    with np.load(npz, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["l14_img"][3] *= 2
    npz.unlink()
    np.savez(npz, **arrays)
    return root


@pytest.mark.parametrize("strategy, params", [("clip_score", {"source": "embeddings"}),  # in its blocks
                                              ("random", {})])                           # before reading
def test_select_applies_the_value_rules_to_what_it_reads_and_the_rest(tmp_path, strategy, params):
    """A scorer's keys are checked as it converts them, other keys before selection starts:
    either way the pool's value rule refuses the off-norm row, and nothing is written."""
    root = _off_norm_pool(tmp_path / "pool")
    with pytest.raises(SelbenchError, match=r"invalid pool: .*00000001\.npz: l14_img row 3: norm 2\.0000"):
        run_selection(root, strategy, params, Budget(count=5), 0, tmp_path / "s.npy", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool"]


def test_a_scorer_that_reads_raw_embeddings_is_still_checked(tmp_path):
    """ScoreTask applies the value rules to any key a scorer read without the checked blocks."""
    from harness.pool.layout import read_shard
    from harness.select.engine import ScoreTask

    class Raw(Scorer):
        name = "raw"

        def score(self, shard):
            return np.asarray(shard.embeddings["l14_img"][:, 0], dtype=np.float32)  # finite scores

    pool = Pool.open(_off_norm_pool(tmp_path / "pool"))
    assert len(ScoreTask(Raw())(read_shard(pool.shards[0], (), ["l14_img"]))) == 64
    with pytest.raises(SelbenchError, match=r"00000001\.npz: l14_img row 3: norm 2\.0000"):
        ScoreTask(Raw())(read_shard(pool.shards[1], (), ["l14_img"]))


@pytest.mark.parametrize("strategy, params", [("clip_score", {}), ("metaclip", None)])
def test_subset_merged_through_staged_groups_is_the_same(random_pool, tmp_path, monkeypatch,
                                                          strategy, params):
    """More shards than a merge reads at once (fan-in 2 here): the kept uids are merged in
    staged groups under the work folder first, giving the same bytes; nothing is left behind."""
    from harness.pool import sorted_uids

    if params is None:
        (tmp_path / "meta.json").write_text(json.dumps(["caption", "number 1", "number 2"]))
        params = {"metadata": str(tmp_path / "meta.json")}
    direct = run_selection(random_pool, strategy, params, Budget(fraction=0.5), 0,
                           tmp_path / "a" / "s.npy", progress=False)
    monkeypatch.setattr(sorted_uids, "MERGE_FAN_IN", 2)
    staged = run_selection(random_pool, strategy, params, Budget(fraction=0.5), 0,
                           tmp_path / "b" / "s.npy", progress=False)
    assert staged["subset_sha256"] == direct["subset_sha256"]
    assert (tmp_path / "a" / "s.npy").read_bytes() == (tmp_path / "b" / "s.npy").read_bytes()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["s.json", "s.npy"]
