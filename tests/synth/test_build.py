"""The built test-preset pool: layout, validity, determinism, ground truth, evaluation sets."""
from __future__ import annotations

import io
import json
import shutil
import tarfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pool_fixtures import dead_pid
from harness.errors import SelbenchError
from harness.synth.build import build_pool
from harness.synth.evalsets import TASKS
from harness.synth.hashes import pixel_hash
from harness.synth.plan import defect_counts
from harness.synth.presets import load_preset

BRIEF_KEYS = {"name", "preset", "seed", "size", "embedding_keys", "fingerprint", "embedding",
              "teacher", "suite", "evalsets", "imagenet_analog", "metaclip_metadata"}


def _read_pool(root):
    """An independent reader: tarfile + pyarrow + np.load, knowing only DataComp's layout."""
    rows, images, emb = [], {}, {"teacher_img": [], "teacher_txt": []}
    for pqt in sorted(p for p in root.glob("0*.parquet")):
        rows.extend(pq.read_table(pqt).to_pylist())
        with np.load(pqt.with_suffix(".npz"), allow_pickle=False) as f:
            for k in emb:
                emb[k].append(f[k])
        with tarfile.open(pqt.with_suffix(".tar")) as tf:
            members = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
        for name, data in members.items():
            if name.endswith(".json"):
                meta = json.loads(data)
                jpg = members[name[:-5] + ".jpg"]
                assert members[name[:-5] + ".txt"].decode() == meta["caption"]
                images[meta["uid"]] = (jpg, meta)
    return rows, images, {k: np.concatenate(v) for k, v in emb.items()}


def test_pool_info_has_the_briefs_keys(test_pool):
    root, info = test_pool
    assert BRIEF_KEYS <= set(info)
    assert json.loads((root / "pool.json").read_text()) == info
    assert info["embedding_keys"] == {"teacher_img": 128, "teacher_txt": 128}
    assert info["teacher"]["arch"] == "teacher" and (root / info["teacher"]["checkpoint"]).exists()
    assert set(info["teacher"]["zero_shot"]) == set(TASKS)
    assert info["size"] == 2000


def test_pool_validates(test_pool):
    from harness.pool.validate import validate_pool

    report = validate_pool(test_pool[0])
    assert report.ok, report.problems
    assert report.rows == 2000 and report.shards == 4 and report.missing_from_tars == 0


def test_independent_reader(test_pool):
    root, _ = test_pool
    rows, images, emb = _read_pool(root)
    assert len(rows) == len(images) == 2000 == len(emb["teacher_img"])
    assert emb["teacher_img"].dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(emb["teacher_img"].astype(np.float32), axis=1), 1, atol=1e-2)
    for i, row in enumerate(rows[:50]):
        jpg, meta = images[row["uid"]]
        assert len(row["uid"]) == 32 and int(row["uid"], 16) >= 0
        assert Image.open(io.BytesIO(jpg)).size == (32, 32)
        import hashlib
        assert hashlib.sha256(jpg).hexdigest() == row["sha256"] == meta["sha256"]
        assert meta["original_width"] == row["original_width"]
        sim = float((emb["teacher_img"][i].astype(np.float32) * emb["teacher_txt"][i].astype(np.float32)).sum())
        assert row["clip_teacher_similarity_score"] == pytest.approx(sim, abs=2e-2)


def test_same_seed_same_pool(test_pool, tmp_path):
    root, info = test_pool
    again = build_pool(tmp_path / "again", preset="test", seed=0, progress=False)
    assert again["fingerprint"] == info["fingerprint"]
    for stem in ("00000000", "00000003"):
        assert (root / f"{stem}.tar").read_bytes() == (tmp_path / "again" / f"{stem}.tar").read_bytes()
    assert pq.read_table(root / "audit.parquet").equals(pq.read_table(tmp_path / "again" / "audit.parquet"))
    for key in TASKS:
        a = (root / "evalsets" / key / "test" / "0.tar").read_bytes()
        assert a == (tmp_path / "again" / "evalsets" / key / "test" / "0.tar").read_bytes()


def test_finished_pool_is_reused_and_others_refused(test_pool, capsys):
    root, info = test_pool
    assert build_pool(root, preset="test", seed=0, progress=False) == info
    assert "reusing" in capsys.readouterr().out
    with pytest.raises(SelbenchError, match="holds another pool"):
        build_pool(root, preset="test", seed=1, progress=False)
    assert not list(root.parent.glob(f".{root.name}.*.tmp"))


def test_pool_of_an_older_generator_is_named_as_such(test_pool, tmp_path):
    root, info = test_pool
    old = tmp_path / "old"
    shutil.copytree(root, old)
    record = json.loads((old / "pool.json").read_text())
    record["generator"].update(version=2, stamp="0123456789abcdef")
    (old / "pool.json").write_text(json.dumps(record))
    with pytest.raises(SelbenchError, match=r"test pool of seed 0 from generator version 2 .*stamp "
                                            r"0123456789abcdef; this build: version \d+"):
        build_pool(old, preset="test", seed=0, progress=False)


def test_killed_builds_half_pool_is_removed_by_the_next_build(test_pool, capsys):
    """A build killed mid-way leaves its temporary folder; the next build removes it once its
    owner is gone, and leaves a live build's alone."""
    from harness.io import owner_tag

    root, info = test_pool
    host = owner_tag().split("-")[1]
    stale = root.parent / f".{root.name}.{dead_pid()}-{host}.k1ll3d_x.tmp"
    live = root.parent / f".{root.name}.{owner_tag()}.l1ve_abc.tmp"
    for folder in (stale, live):
        (folder / "shards").mkdir(parents=True)
        (folder / "shards" / "00000000.tar").write_bytes(b"half a tar")
    assert build_pool(root, preset="test", seed=0, progress=False) == info
    assert not stale.exists() and live.is_dir()
    shutil.rmtree(live)


def test_audit_matches_the_configured_rates(test_pool):
    root, info = test_pool
    audit = pq.read_table(root / "audit.parquet").to_pandas()
    cfg = load_preset("test")
    assert audit["defect"].value_counts().to_dict() == {k: v for k, v in defect_counts(cfg, 2000).items() if v}
    assert info["generator"]["defects"] == cfg["defects"]
    uids = [r["uid"] for p in sorted(root.glob("0*.parquet")) for r in pq.read_table(p, columns=["uid"]).to_pylist()]
    assert list(audit["uid"]) == uids
    obj = audit[audit["concept_rank"] >= 0]
    assert set(obj["frequency_group"]) == {"head", "mid", "tail"}
    assert (audit.loc[audit.defect == "duplicate", "duplicate_group"] >= 0).all()
    assert audit.loc[audit.defect == "off_domain", "domain"].isin(["photo", "face"]).all()


def test_mismatched_captions_belong_to_other_samples(test_pool):
    root, _ = test_pool
    audit = pq.read_table(root / "audit.parquet").to_pandas()
    texts = [r["text"] for p in sorted(root.glob("0*.parquet")) for r in pq.read_table(p, columns=["text"]).to_pylist()]
    clean_texts = {t for t, d in zip(texts, audit["defect"]) if d != "mismatched"}
    mism = [t for t, d in zip(texts, audit["defect"]) if d == "mismatched"]
    assert sum(t in clean_texts for t in mism) > 0.5 * len(mism)


def _eval_hashes(root):
    hashes = set()
    for key in TASKS:
        for split in ("test", "train"):
            with tarfile.open(root / "evalsets" / key / split / "0.tar") as tf:
                for m in tf.getmembers():
                    if m.name.endswith(".png"):
                        hashes.add(pixel_hash(np.asarray(Image.open(tf.extractfile(m)).convert("RGB"))))
    return hashes


def test_eval_images_are_not_in_pool_or_teacher_set(test_pool):
    from harness.synth import evalsets as ev
    from harness.synth.metaclip import english_words
    from harness.synth.plan import teacher_plan
    from harness.synth.samples import phrases, render_plan

    root, _ = test_pool
    eval_hashes = _eval_hashes(root)
    assert len(eval_hashes) > 500
    _, images, _ = _read_pool(root)
    pool_hashes = {pixel_hash(np.asarray(Image.open(io.BytesIO(j)).convert("RGB"))) for j, _ in images.values()}
    assert not eval_hashes & pool_hashes
    words = phrases(english_words())
    plan = teacher_plan(load_preset("test"), 0, len(words), ev.DIGIT_FRACTIONS)
    teacher_images, _, _ = render_plan(plan, 0, 2, words)
    assert not eval_hashes & {pixel_hash(im) for im in teacher_images}


def test_clip_benchmark_reads_every_task(test_pool):
    import torchvision.transforms as T
    from clip_benchmark.datasets.builder import build_dataset

    root, _ = test_pool
    cfg = load_preset("test")["evalsets"]
    for key, spec in TASKS.items():
        for split in ("test", "train"):
            task = "zeroshot_retrieval" if spec.classnames is None else "zeroshot_classification"
            ds = build_dataset(dataset_name=f"wds/{key}", root=str(root / "evalsets" / key), split=split,
                               transform=T.ToTensor(), task=task)
            items = list(ds)
            assert items and items[0][0].shape == (3, 32, 32)
            if spec.classnames is None:
                assert all(len(caps) == cfg["retrieval_captions"] for _, caps in items)
            else:
                assert list(ds.classes) == list(spec.classnames) and ds.templates
                assert {y for _, y in items} <= set(range(len(spec.classnames)))
            if key == "objects" and split == "test":
                assert len(items) == 48


def test_teacher_files_beside_each_task(test_pool):
    root, _ = test_pool
    for key, spec in TASKS.items():
        emb = np.load(root / "evalsets" / key / "train_teacher_img.npy", allow_pickle=False)
        assert emb.dtype == np.float32 and emb.shape[1] == 128
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-3)
        if spec.classnames is not None:
            cls = np.load(root / "evalsets" / key / "classes_teacher_txt.npy", allow_pickle=False)
            assert cls.shape == (len(spec.classnames), 128)


def test_object_tasks_carry_the_pools_frequency_groups(test_pool):
    """class_frequency.json of each object task names each class's group as the audit does."""
    from harness.evaluate.datasets import read_class_frequency

    root, _ = test_pool
    audit = pq.read_table(root / "audit.parquet").to_pandas().dropna(subset=["frequency_group"])
    of_concept = dict(zip(audit["concept"], audit["frequency_group"]))
    with_file = []
    for key, spec in TASKS.items():
        groups = read_class_frequency(root / "evalsets" / key, list(spec.classnames or []))
        if groups is None:
            continue
        with_file.append(key)
        assert sum(name in of_concept for name in spec.classnames) > len(spec.classnames) // 2
        for name, group in zip(spec.classnames, groups):
            assert of_concept.get(name, group) == group
        assert set(groups) == {"head", "mid", "tail"}
    assert sorted(with_file) == ["objects", "objects_background", "objects_corrupt", "objects_sketch"]


def test_metaclip_entries(test_pool):
    root, info = test_pool
    entries = json.loads((root / info["metaclip_metadata"]).read_text())
    assert len(entries) > 2000 and entries == sorted(set(entries))
    assert {"circle", "letter a", "striped", "red", "house"} <= set(entries)


def _auc(pos, neg):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])


def _clean_vs_mismatched_auc(root):
    audit = pq.read_table(root / "audit.parquet").to_pandas()
    scores = np.concatenate([pq.read_table(p, columns=["clip_teacher_similarity_score"]).column(0).to_numpy()
                             for p in sorted(root.glob("0*.parquet"))])
    return _auc(scores[audit.defect.eq("clean").to_numpy()], scores[audit.defect.eq("mismatched").to_numpy()])


@pytest.mark.slow
def test_tiny_teacher_meets_the_miniature_targets(tmp_path_factory):
    """Issue 9's teacher targets on the default pool: objects >= 0.60 zero-shot, CLIPScore
    ROC AUC clean vs mismatched >= 0.95; teacher.json's recorded AUC is the parquet's."""
    root = tmp_path_factory.mktemp("tiny") / "pool"
    info = build_pool(root, preset="tiny", seed=0)
    record = json.loads((root / "teacher" / "teacher.json").read_text())
    auc = _clean_vs_mismatched_auc(root)
    assert record["zero_shot"]["objects"] >= 0.60
    assert auc >= 0.95
    # the shift analogs' calibration (harness/conf/synth/tiny.yaml): the teacher keeps about 0.8
    # of its objects accuracy on them (measured 0.61 / 0.87 / 0.83 on this pool)
    shifts = [record["zero_shot"][k] / record["zero_shot"]["objects"]
              for k in ("objects_sketch", "objects_corrupt", "objects_background")]
    assert 0.6 <= sum(shifts) / 3 <= 0.95
    assert min(shifts) >= 0.5
    assert info["generator"]["shift_levels"] == {k: 1 for k in ("objects_background", "objects_corrupt", "objects_sketch")}
    assert record["clipscore_auc_clean_vs_mismatched"] == pytest.approx(auc, abs=1e-4)
    assert info["teacher"]["zero_shot"] == record["zero_shot"]


def test_clipscore_auc_hand_computed():
    from harness.synth.build import clipscore_auc
    from harness.synth.samples import KIND

    # f.g: clean 0.9 and 0.5, mismatched 0.6 and 0.1, a generic row (ignored) 0.99
    img = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [1, 0]], dtype=np.float32)
    txt = np.array([[0.9, 0], [0.5, 0], [0.6, 0], [0.1, 0], [0.99, 0]], dtype=np.float32)
    kinds = np.array([KIND["clean"], KIND["clean"], KIND["mismatched"], KIND["mismatched"], KIND["generic"]])
    # pairs (clean, mismatched) ranked right: 0.9>0.6, 0.9>0.1, 0.5>0.1; wrong: 0.5<0.6 -> 3/4
    assert clipscore_auc(img, txt, kinds) == pytest.approx(0.75)
    assert clipscore_auc(img[:2], txt[:2], kinds[:2]) is None


def test_teacher_record_gets_its_quality(test_pool):
    root, info = test_pool
    record = json.loads((root / "teacher" / "teacher.json").read_text())
    assert record["zero_shot"] == info["teacher"]["zero_shot"]
    assert set(record["zero_shot"]) == set(TASKS)
    assert record["clipscore_auc_clean_vs_mismatched"] == info["teacher"]["clipscore_auc_clean_vs_mismatched"]
    assert record["clipscore_auc_clean_vs_mismatched"] == pytest.approx(_clean_vs_mismatched_auc(root), abs=1e-4)
