"""Per-shard sorted runs: the cut equals ``top_k_mask`` (ties by uid), the merge equals ``np.save``."""
import json

import numpy as np
import pytest

from harness.pool.uid import UID_DTYPE, sort_uid_array
from harness.select.base import Budget, threshold_mask, top_k_mask
from harness.select import runs as R


def uids_from(hi, lo):
    u = np.empty(len(hi), dtype=UID_DTYPE)
    u["f0"], u["f1"] = hi, lo
    return u


def write_shards(folder, scores, uids, sizes):
    stems, start = [], 0
    for i, size in enumerate(sizes):
        stem = f"{i:08d}"
        R.write_run(folder, stem, scores[start:start + size], uids[start:start + size])
        stems.append(stem)
        start += size
    return R.ScoreRuns(folder, stems)


def kept_by_runs(runs, cut):
    rows = []
    for i, c in enumerate(runs.prefix_counts(cut)):
        rows.extend(zip(runs.column(i, "hi")[:c].tolist(), runs.column(i, "lo")[:c].tolist()))
    return sorted(rows)


def mapped_files(folder):
    """Files under ``folder`` that this process has memory-mapped now (Linux)."""
    maps = open("/proc/self/maps").read().splitlines()
    return {line.split()[-1] for line in maps if str(folder) in line}


def as_pairs(uids):
    return sorted(zip(uids["f0"].tolist(), uids["f1"].tolist()))


def test_hand_computed_cut_with_ties(tmp_path):
    # scores 0.5, 0.9, 0.5, 0.5, 0.1 over two shards: the top 3 are 0.9, then of the three
    # 0.5s (uids (2,0), (1,9), (1,7)) the two smallest uids (1,7) and (1,9); the cut is (1,9)
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1], np.float32)
    uids = uids_from([2, 5, 1, 1, 0], [0, 0, 9, 7, 0])
    runs = write_shards(tmp_path, scores, uids, [2, 3])
    cut = runs.cut(3)
    assert (float(cut[0]), cut[1], cut[2]) == (-0.5, 1, 9)
    assert kept_by_runs(runs, cut) == [(1, 7), (1, 9), (5, 0)]
    assert runs.prefix_counts(cut) == [1, 2]
    assert runs.kth_score(3) == 0.5 and runs.kth_score(5) == pytest.approx(0.1)
    assert runs.threshold_counts(0.5) == [2, 2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cut_equals_top_k_mask_for_every_k(tmp_path, dtype):
    rng = np.random.default_rng(3)
    n = 157
    scores = np.round(rng.normal(size=n), 1).astype(dtype)  # many ties
    scores[:7] = -0.0
    scores[7:12] = 0.0
    hi = rng.integers(0, 4, n).astype(np.uint64) * np.uint64(2**62)  # ties in the first half
    lo = rng.permutation(n).astype(np.uint64) * np.uint64(2**56)
    uids = uids_from(hi, lo)
    runs = write_shards(tmp_path, scores, uids, [40, 0, 1, 60, 56])
    assert runs.rows == n
    for k in range(1, n + 1):
        want = as_pairs(uids[top_k_mask(scores, uids, k)])
        assert kept_by_runs(runs, runs.cut(k)) == want, k
        assert runs.kth_score(k) == float(np.sort(scores.astype(np.float64))[::-1][k - 1])
    for th in (-0.3, 0.0, 0.25, 5.0):
        assert sum(runs.threshold_counts(th)) == int(threshold_mask(scores, th).sum())


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/maps"), reason="Linux /proc")
def test_cut_and_merge_leave_no_file_mapped(tmp_path, monkeypatch):
    # mapped pages count in the driver's resident memory: a cut maps one column at a time
    # and drops it, the merge reads and writes with file I/O
    rng = np.random.default_rng(5)
    n = 3000
    scores = rng.normal(size=n).astype(np.float32)
    uids = uids_from(rng.integers(0, 2**63, n).astype(np.uint64), np.arange(n, dtype=np.uint64))
    runs = write_shards(tmp_path, scores, uids, [1000, 1000, 1000])
    cut = runs.cut(1234)
    counts = runs.prefix_counts(cut)
    assert sum(counts) == 1234 and not mapped_files(tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir()
    for i, c in enumerate(counts):
        R.write_kept(tmp_path, runs.stems[i], c, kept)
    assert not mapped_files(tmp_path)

    seen = []
    real_write = R.np.lib.format.write_array_header_1_0

    def spy(fp, header):  # called as the merge starts writing: nothing may be mapped then or later
        real_write(fp, header)
        seen.append(mapped_files(tmp_path))

    monkeypatch.setattr(R.np.lib.format, "write_array_header_1_0", spy)
    R.merge_sorted(sorted(kept.glob("*.npy")), tmp_path / "subset.npy", block_rows=256)
    assert seen == [set()] and not mapped_files(tmp_path)
    assert as_pairs(np.load(tmp_path / "subset.npy")) == as_pairs(uids[top_k_mask(scores, uids, 1234)])


def test_float_order_round_trip():
    for dtype in (np.float32, np.float64):
        values = np.array([-np.inf, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.0, np.inf], dtype)
        ordered = [R._ordered(v, dtype) for v in values]
        assert ordered == sorted(ordered)
        assert [R._float(o, dtype) for o in ordered] == list(values)


def test_merge_is_np_save_of_the_sorted_concatenation(tmp_path):
    rng = np.random.default_rng(0)
    parts = []
    for i, n in enumerate([0, 1, 500, 37, 1200]):
        u = uids_from(rng.integers(0, 3, n).astype(np.uint64), rng.integers(0, 2**63, n).astype(np.uint64))
        u = sort_uid_array(u)
        np.save(tmp_path / f"{i}.npy", u)
        parts.append(u)
    R.merge_sorted([tmp_path / f"{i}.npy" for i in range(5)], tmp_path / "merged.npy", block_rows=64)
    np.save(tmp_path / "want.npy", sort_uid_array(np.concatenate(parts)))
    assert (tmp_path / "merged.npy").read_bytes() == (tmp_path / "want.npy").read_bytes()


def test_killed_scoring_resumes_shard_by_shard(tmp_path, random_pool):
    from harness.pool.layout import Pool
    from harness.select.engine import (build_strategy, make_context, select_by_runs,
                                       work_folder)
    from harness.select.executors import LocalExecutor

    pool = Pool.open(random_pool)
    scorer = build_strategy("clip_score", {}, make_context(pool))
    work = work_folder(tmp_path / "sub.npy")
    assert work == tmp_path / "sub.work"
    key = {"strategy": "clip_score", "seed": 0}
    first = select_by_runs(scorer, pool, Budget(count=50), work, key, LocalExecutor())
    runs = work / "scores"
    stems = [s.stem for s in pool.shards]
    stamps = {s: (runs / f"{s}.key.npy").stat().st_mtime_ns for s in stems}
    (runs / f"{stems[2]}.json").unlink()  # as if killed while writing shard 2
    (runs / f"{stems[2]}.key.npy").write_bytes(b"partial")
    again = select_by_runs(scorer, pool, Budget(count=50), work, key, LocalExecutor())
    assert {s: (runs / f"{s}.key.npy").stat().st_mtime_ns for s in stems if s != stems[2]} == \
        {s: t for s, t in stamps.items() if s != stems[2]}
    assert json.loads((runs / f"{stems[2]}.json").read_text())["rows"] == 64
    assert again["selected"] == first["selected"] == 50 and again["stats"] == first["stats"]
    # another identity (e.g. another seed) clears the folder rather than reusing scores
    select_by_runs(scorer, pool, Budget(count=50), work, dict(key, seed=1), LocalExecutor())
    assert all((runs / f"{s}.key.npy").stat().st_mtime_ns != stamps[s] for s in stems)


def test_a_resumed_selection_writes_the_same_subset_and_manifest(tmp_path, random_pool):
    from harness.select.engine import run_selection

    rng = np.random.default_rng(0)
    np.save(tmp_path / "t.npy", rng.normal(size=(3, 16)))
    params = {"p": "2", "target": str(tmp_path / "t.npy")}
    first = run_selection(random_pool, "normsim", params, Budget(count=40), 0, tmp_path / "a.npy",
                          progress=False)
    assert not (tmp_path / "a.work").exists()
    # a run killed after scoring every shard: its work folder holds all the runs
    from harness.pool.layout import Pool
    from harness.select.engine import (build_strategy, make_context, select_by_runs,
                                       work_folder, _identity)
    from harness.select.executors import LocalExecutor

    pool = Pool.open(random_pool)
    strat = build_strategy("normsim", params, make_context(pool))
    key = dict(_identity(strat, Budget(count=40), 0, pool), embedding_keys=strat.embedding_keys())
    key.pop("budget")
    select_by_runs(strat, pool, Budget(count=40), work_folder(tmp_path / "b.npy"), key,
                   LocalExecutor())
    second = run_selection(random_pool, "normsim", params, Budget(count=40), 0, tmp_path / "b.npy",
                           progress=False)
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    assert first["extra"] == second["extra"] and "num_targets" in second["extra"]
