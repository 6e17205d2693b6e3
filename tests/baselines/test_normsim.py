"""normsim: NormSim_2 / NormSim_inf by hand, suite targets, bad inputs, and NormSim_2-D."""
import math

import numpy as np
import pytest

from pool_fixtures import random_uids, unit_rows, write_pool
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.subset import read_subset
from harness.select.base import Budget
from harness.select.engine import build_strategy, make_context, run_selection, score_pool
from baselines.normsim import NormSim, NormSimDynamic, suite_task_dirs

# 4 pool images and 3 targets (the first stored unnormalised: it is normalised on load)
IMG = np.array([(1.0, 0, 0), (0, 0, 1.0), (0.6, 0, 0.8), (0, -1.0, 0)])
TARGETS = np.array([(2.0, 0, 0), (0, 1.0, 0), (0.6, 0.8, 0)])
# |t_j·f|: row 0: 1, 0, .6 | row 1: 0, 0, 0 | row 2: .6, 0, .36 | row 3: 0, 1, .8
INF = [1.0, 0.0, 0.6, 1.0]
TWO = [math.sqrt(1.36), 0.0, math.sqrt(0.36 + 0.36**2), math.sqrt(1.64)]


@pytest.fixture
def pool(tmp_path):
    return write_pool(tmp_path / "pool", IMG, IMG, dtype=np.float32, shard_size=3)


@pytest.fixture
def target_file(tmp_path):
    np.save(tmp_path / "targets.npy", TARGETS)
    return tmp_path / "targets.npy"


def scores(pool_dir, **params):
    p = Pool.open(pool_dir)
    return score_pool(build_strategy("normsim", params, make_context(p)), p)


@pytest.mark.parametrize("p, expect", [("inf", INF), ("2", TWO), (2, TWO), (float("inf"), INF)])
def test_hand_computed_values(pool, target_file, p, expect):
    assert scores(pool, p=p, target=str(target_file)) == pytest.approx(expect, abs=1e-6)


def test_random_values_match_the_definition(tmp_path):
    rng = np.random.default_rng(1)
    img = unit_rows(rng.normal(size=(30, 6)))
    root = write_pool(tmp_path / "pool", img, img, dtype=np.float32, shard_size=7)
    t = unit_rows(rng.normal(size=(4, 6)))
    np.save(tmp_path / "t.npy", t)
    proj = img @ t.T
    assert scores(root, p="inf", target=str(tmp_path / "t.npy")) == pytest.approx(
        np.abs(proj).max(1), abs=1e-6)
    assert scores(root, p="2", target=str(tmp_path / "t.npy")) == pytest.approx(
        np.linalg.norm(proj, axis=1), abs=1e-6)


def test_engine_top_k_and_threshold(pool, target_file, tmp_path):
    uids = Pool.open(pool).iter_shards()
    hexes = [u for s in uids for u in s.uid_hex]
    run_selection(pool, "normsim", {"p": "2", "target": str(target_file)}, Budget(count=2), 0,
                  tmp_path / "k.npy", progress=False)
    kept = sorted(hexes.index(u) for u in _hex(read_subset(tmp_path / "k.npy")))
    assert kept == [0, 3]
    run_selection(pool, "normsim", {"target": str(target_file)}, Budget(threshold=0.5), 0,
                  tmp_path / "t.npy", progress=False)
    assert sorted(hexes.index(u) for u in _hex(read_subset(tmp_path / "t.npy"))) == [0, 2, 3]


def _hex(arr):
    from harness.pool.uid import array_to_uids

    return list(array_to_uids(arr))


def test_suite_targets_are_the_train_splits(tmp_path):
    rng = np.random.default_rng(2)
    img = unit_rows(rng.normal(size=(12, 5)))
    root = write_pool(tmp_path / "pool", img, img, arch="teacher", dtype=np.float32,
                      info={"suite": "tiny", "evalsets": "evalsets"})
    parts = []
    for i, task in enumerate(suite_task_dirs("tiny")):
        t = unit_rows(rng.normal(size=(2 + i % 3, 5)))
        (root / "evalsets" / task).mkdir(parents=True)
        np.save(root / "evalsets" / task / "train_teacher_img.npy", t.astype(np.float32))
        np.save(root / "evalsets" / task / "test_teacher_img.npy", np.ones((1, 5), np.float32))
        parts.append(t)
    t = np.concatenate(parts)
    want = np.abs(img @ t.T).max(1)
    assert scores(root, target="tiny") == pytest.approx(want, abs=1e-6)
    assert scores(root) == pytest.approx(want, abs=1e-6)  # None: the pool's own suite
    assert scores(root, p="2") == pytest.approx(np.linalg.norm(img @ t.T, axis=1), abs=1e-5)
    missing = root / "evalsets" / "digits" / "train_teacher_img.npy"
    missing.unlink()
    with pytest.raises(SelbenchError, match=str(missing)):
        scores(root, target="tiny")


def test_tiny_suite_lists_the_eleven_tasks():
    assert sorted(suite_task_dirs("tiny")) == sorted(
        ["objects", "objects_sketch", "objects_corrupt", "objects_background", "count", "color",
         "position", "texture", "digits", "rendered_sst2", "retrieval"])


def test_suite_tasks_come_from_the_evaluation_suite_loader(monkeypatch):
    from harness.evaluate import tasks

    want = [t.dir for t in tasks.load_suite("datacomp38")]
    assert suite_task_dirs("datacomp38") == want
    calls = []
    monkeypatch.setattr(tasks, "load_suite", lambda name: calls.append(name) or [])
    assert suite_task_dirs("anything") == [] and calls == ["anything"]


def _one_line_error(fn, match):
    with pytest.raises(SelbenchError, match=match) as err:
        fn()
    assert "\n" not in str(err.value)


def test_bad_inputs(pool, target_file, tmp_path):
    _one_line_error(lambda: scores(pool, target=str(tmp_path / "nope.npy")), "nope.npy not found")
    _one_line_error(lambda: scores(pool, target="no_such_suite"), "no_such_suite")
    _one_line_error(lambda: scores(pool), "names no suite")
    _one_line_error(lambda: scores(pool, p="3", target=str(target_file)), "p must be 2 or inf")
    np.save(tmp_path / "d4.npy", np.ones((2, 4)))
    _one_line_error(lambda: scores(pool, target=str(tmp_path / "d4.npy")), "dimension 4")
    bad = TARGETS.copy()
    bad[1, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    _one_line_error(lambda: scores(pool, target=str(tmp_path / "nan.npy")), "nan.npy row 1")
    np.save(tmp_path / "flat.npy", np.ones(3))
    _one_line_error(lambda: scores(pool, target=str(tmp_path / "flat.npy")), "2-D")


def test_nan_pool_embedding_and_no_output(tmp_path, target_file):
    img = IMG.copy()
    img[2, 2] = np.nan
    root = write_pool(tmp_path / "pool", img, IMG, dtype=np.float32)
    out = tmp_path / "o.npy"
    _one_line_error(lambda: run_selection(root, "normsim", {"target": str(target_file)},
                                          Budget(count=1), 0, out, progress=False),
                    "l14_img row 2: non-finite")
    assert not out.exists() and not out.with_suffix(".json").exists()


# ----- NormSim_2-D -----------------------------------------------------------------------------
def reference_dynamic(img, txt, uids, k, iters, prefilter=0.3):
    """float64 NormSim_2-D straight from the specification; returns kept row indices."""
    img, txt = np.asarray(img, np.float64), np.asarray(txt, np.float64)
    n = len(img)
    clip = (img * txt).sum(1)
    order = sorted(range(n), key=lambda i: (-clip[i], uids[i]))
    cur = order[:int(round(prefilter * n))]
    s = img.T @ img
    for r in range(iters):
        excess = len(cur) - k
        if excess <= 0:
            break
        n_drop = math.ceil(excess / (iters - r))
        q = {i: img[i] @ s @ img[i] for i in cur}
        ranked = sorted(cur, key=lambda i: (-q[i], uids[i]))
        cur = ranked[:len(ranked) - n_drop]
        s = img[cur].T @ img[cur]
    return sorted(cur)


@pytest.mark.parametrize("iters, k", [(1, 10), (2, 6), (3, 3), (3, 9), (7, 5), (500, 4)])
def test_dynamic_matches_float64_reference(tmp_path, iters, k):
    rng = np.random.default_rng(iters)
    n, d = 60, 5
    img = unit_rows(rng.normal(size=(n, d)) + np.array([2.0, 0, 0, 0, 0]) * rng.random((n, 1)))
    txt = unit_rows(img + rng.normal(size=(n, d)))
    uids = sorted(random_uids(n, rng))
    root = write_pool(tmp_path / "pool", img, txt, uids=uids, dtype=np.float32, shard_size=25)
    out = tmp_path / "d.npy"
    m = run_selection(root, "normsim", {"dynamic": True, "iters": iters}, Budget(count=k), 0, out,
                      progress=False)
    assert m["shape"] == "set" and m["selected"] == k and m["extra"]["prefiltered"] == 18
    kept = sorted(uids.index(u) for u in _hex(read_subset(out)))
    assert kept == reference_dynamic(img.astype(np.float32), txt.astype(np.float32), uids, k, iters)


def test_dynamic_is_a_set_selector_under_the_same_name(tmp_path):
    root = write_pool(tmp_path / "pool", IMG, IMG, dtype=np.float32)
    ctx = make_context(Pool.open(root))
    assert isinstance(build_strategy("normsim", {"dynamic": True}, ctx), NormSimDynamic)
    assert type(build_strategy("normsim", {"target": "x.npy"}, ctx)) is NormSim


def test_dynamic_bad_budgets(tmp_path):
    rng = np.random.default_rng(0)
    img = unit_rows(rng.normal(size=(20, 4)))
    root = write_pool(tmp_path / "pool", img, img, dtype=np.float32)
    run = lambda b, **p: run_selection(root, "normsim", {"dynamic": True, **p}, b, 0,  # noqa: E731
                                       tmp_path / "x.npy", progress=False)
    _one_line_error(lambda: run(Budget(count=7)), "pre-filter keeps 6")
    _one_line_error(lambda: run(Budget(natural=True)), "budget.fraction or budget.count")
    _one_line_error(lambda: run(Budget(threshold=0.5)), "threshold")
    _one_line_error(lambda: run(Budget(count=2), iters=0), "iters")
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("p", ["inf", "2"])
def test_cli_accepts_p(pool, target_file, tmp_path, capsys, p):
    from harness.cli import main

    out = tmp_path / f"cli{p}.npy"
    rc = main(["select", f"pool={pool}", "strategy=normsim", f"strategy.p={p}",
               f"strategy.target={target_file}", "budget.count=2", f"out={out}", "progress=false"])
    assert rc == 0
    params = __import__("json").loads(out.with_suffix(".json").read_text())["params"]
    assert params["p"] == p
    hexes = [u for s in Pool.open(pool).iter_shards() for u in s.uid_hex]
    assert sorted(hexes.index(u) for u in _hex(read_subset(out))) == [0, 3]


def test_prepared_scorer_pickles_for_worker_processes(pool, target_file):
    import pickle

    p = Pool.open(pool)
    scorer = build_strategy("normsim", {"p": "2", "target": str(target_file)}, make_context(p))
    scorer.prepare(p)
    clone = pickle.loads(pickle.dumps(scorer))
    assert type(clone) is NormSim and np.array_equal(clone.gram, scorer.gram)
    shard = next(p.iter_shards(embeddings=["l14_img"]))
    assert np.array_equal(clone.score(shard), scorer.score(shard))


def test_dynamic_with_a_sampled_first_s_is_seeded(tmp_path):
    rng = np.random.default_rng(4)
    img = unit_rows(rng.normal(size=(40, 4)))
    root = write_pool(tmp_path / "pool", img, unit_rows(img + rng.normal(size=(40, 4))), shard_size=15,
                      dtype=np.float32)
    params = {"dynamic": True, "iters": 3, "sample_fraction": 0.5}
    for name in ("a", "b"):
        run_selection(root, "normsim", params, Budget(count=5), 2, tmp_path / f"{name}.npy", progress=False)
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    _one_line_error(lambda: run_selection(root, "normsim", dict(params, sample_fraction=0.0), Budget(count=5),
                                          2, tmp_path / "c.npy", progress=False), "sample_fraction")


def test_changed_targets_are_not_reused(tmp_path):
    """A finished subset records its targets' sha256: rerun after a target file changed at the
    same path (the suite's train split of a rebuilt pool) selects again; unchanged, it reuses."""
    rng = np.random.default_rng(3)
    img = unit_rows(rng.normal(size=(12, 5)))
    root = write_pool(tmp_path / "pool", img, img, arch="teacher", dtype=np.float32,
                      info={"suite": "tiny", "evalsets": "evalsets"})
    for task in suite_task_dirs("tiny"):
        (root / "evalsets" / task).mkdir(parents=True)
        np.save(root / "evalsets" / task / "train_teacher_img.npy", img[:2])
    out = tmp_path / "sub.npy"
    first = run_selection(root, "normsim", {}, Budget(count=3), 0, out, progress=False)
    assert first["inputs"]["evalsets/objects/train_teacher_img.npy"]
    assert run_selection(root, "normsim", {}, Budget(count=3), 0, out, progress=False) == first
    np.save(root / "evalsets" / "objects_sketch" / "train_teacher_img.npy", img[5:8])
    again = run_selection(root, "normsim", {}, Budget(count=3), 0, out, progress=False)
    assert again["inputs"] != first["inputs"]
    assert again["wall_time_s"] != first["wall_time_s"] or again["subset_sha256"] != first["subset_sha256"]
    scl = run_selection(root, "s_cliploss_normsim", {"batch_size": 4, "num_batchings": 1},
                        Budget(count=3), 0, tmp_path / "scl.npy", progress=False)
    assert set(scl["inputs"]) == set(again["inputs"])
