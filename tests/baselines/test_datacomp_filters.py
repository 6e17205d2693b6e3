"""DataComp's filters on hand-made pools whose keep sets are obvious."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines.datacomp_filters import (DataCompBasic, DataCompImage, DataCompImageClip,
                                        DataCompText, image_size_mask, in21k_lemmas, names_in21k)
from pool_fixtures import random_uids, unit_rows
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.pool.writer import shard_stem, write_embeddings, write_metadata, write_pool_info
from harness.select.base import Budget
from harness.select.engine import build_params, make_context, pool_uids, run_selection, select_mask


def make_pool(root, texts, sizes=None, img=None, txt=None, shard_size=4, info=None, english=True):
    """A metadata pool with the given captions, (width, height) and embeddings.

    ``english``: the pool.json word that its captions are English by construction (so the
    filters run without a fasttext model); False leaves it out."""
    n = len(texts)
    rng = np.random.default_rng(0)
    sizes = sizes or [(256, 256)] * n
    img = unit_rows(rng.normal(size=(n, 4))) if img is None else img
    txt = img if txt is None else txt
    uids = random_uids(n, rng)
    root.mkdir(parents=True)
    for s, lo in enumerate(range(0, n, shard_size)):
        sl = slice(lo, min(n, lo + shard_size))
        frame = pd.DataFrame({"uid": uids[sl], "text": texts[sl],
                              "original_width": [w for w, _ in sizes[sl]],
                              "original_height": [h for _, h in sizes[sl]]})
        write_metadata(root / f"{shard_stem(s)}.parquet", frame)
        write_embeddings(root / f"{shard_stem(s)}.npz", {"l14_img": img[sl], "l14_txt": txt[sl]},
                         dtype=np.float32)
    word = {"english": True} if english else {}
    write_pool_info(root, {"name": "t", "embedding": "l14", **word, **(info or {})})
    return root


def select(cls, pool_dir, params, budget, seed=0):
    pool = Pool.open(pool_dir)
    ctx = make_context(pool, seed)
    strat = cls(build_params(cls, params), ctx)
    rng = np.random.Generator(np.random.PCG64(seed))
    return select_mask(strat, pool, budget, pool_uids(pool), rng), ctx.extra


# ----- basic --------------------------------------------------------------------------------
BASIC = [("a red dog running", (256, 256), True),
         ("two words", (256, 256), False),          # 2 words: not > 2
         ("a b c", (256, 256), False),              # 5 characters: not > 5
         ("a b cd", (256, 256), True),
         ("three word caption", (199, 400), False),  # min side < 200
         ("three word caption", (200, 600), True),   # aspect exactly 3
         ("three word caption", (601, 200), False),  # aspect > 3
         ("three word caption", (0, 0), False),      # no size
         ("tab\tseparated\nwords", (300, 300), True),
         ("", (300, 300), False)]


def test_basic_filter(tmp_path):
    pool = make_pool(tmp_path / "p", [t for t, _, _ in BASIC], [s for _, s, _ in BASIC])
    mask, extra = select(DataCompBasic, pool, {}, Budget(natural=True))
    assert mask.tolist() == [k for _, _, k in BASIC]
    assert extra["english_filter"] == "english by construction (pool.json)" and extra["survivors"] == 4


def test_image_size_mask_missing_values():
    assert image_size_mask([np.nan, 300], [300, 300]).tolist() == [False, True]


def test_budget_subsamples_survivors(tmp_path):
    pool = make_pool(tmp_path / "p", [t for t, _, _ in BASIC], [s for _, s, _ in BASIC])
    survivors = np.array([k for _, _, k in BASIC])
    a, _ = select(DataCompBasic, pool, {}, Budget(count=2), seed=1)
    b, _ = select(DataCompBasic, pool, {}, Budget(count=2), seed=1)
    assert a.sum() == 2 and not (a & ~survivors).any() and a.tolist() == b.tolist()
    with pytest.raises(SelbenchError, match="exceeds its 4 surviving rows"):
        select(DataCompBasic, pool, {}, Budget(count=5))


# ----- English (issue 10, item 3): a real fasttext model, trained here on labelled lines -----
LANG_LINES = {
    "en": ["the dog runs in the park", "a photo of a red car", "two cats sleeping on the sofa",
           "a man riding a bicycle", "the house by the lake"],
    "fr": ["le chien court dans le parc", "une photo d une voiture rouge", "deux chats dorment sur le canape",
           "un homme sur un velo", "la maison pres du lac"],
    "de": ["der hund läuft im park", "ein foto von einem roten auto", "zwei katzen schlafen auf dem sofa",
           "ein mann fährt fahrrad", "das haus am see"],
}


@pytest.fixture(scope="module")
def lid_model(tmp_path_factory):
    """A small supervised fasttext language-ID model (same file format and API as lid.176.bin)."""
    fasttext = pytest.importorskip("fasttext")
    d = tmp_path_factory.mktemp("lid")
    lines = [f"__label__{lang} {t}" for lang, texts in LANG_LINES.items() for t in texts]
    (d / "train.txt").write_text("\n".join(lines * 5) + "\n")
    model = fasttext.train_supervised(input=str(d / "train.txt"), epoch=50, lr=0.5, dim=16, minCount=1,
                                      minn=2, maxn=4, thread=1, seed=0, verbose=0)
    model.save_model(str(d / "lid.bin"))
    return d / "lid.bin"


ENGLISH = [("a dog in the park", True), ("le chien dans le parc", False),
           ("ein hund im park", False), ("a red car\nby the lake", True),
           ("une voiture rouge", False), ("two cats on the sofa", True)]


def test_english_check_with_a_fasttext_model(tmp_path, lid_model):
    pool = make_pool(tmp_path / "p", [t for t, _ in ENGLISH], english=False)
    mask, extra = select(DataCompBasic, pool, {"fasttext_model": str(lid_model)}, Budget(natural=True))
    assert mask.tolist() == [k for _, k in ENGLISH]  # all pass the caption and size tests
    assert extra["english_filter"] == f"fasttext:{lid_model}"
    # the image-based caption filter applies the same check (every caption has > 1 token)
    from baselines.datacomp_filters import CaptionShard, resolve_english
    p = Pool.open(pool)
    english = resolve_english("datacomp_image", build_params(DataCompImage, {"fasttext_model": str(lid_model)}), p)
    got = np.concatenate([CaptionShard(english)(s) for s in p.iter_shards(["text"])])
    assert got.tolist() == [k for _, k in ENGLISH]


def test_downloaded_model_is_found(tmp_path, lid_model, monkeypatch):
    pool = make_pool(tmp_path / "p", [t for t, _ in ENGLISH], english=False)
    monkeypatch.setenv("SELBENCH_ASSETS", str(tmp_path / "assets"))
    with pytest.raises(SelbenchError, match=r"download-assets only=\[lid176\].*strategy.english=skip"):
        select(DataCompText, pool, {}, Budget(natural=True))
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "lid.176.bin").write_bytes(lid_model.read_bytes())
    mask, extra = select(DataCompBasic, pool, {}, Budget(natural=True))
    assert mask.tolist() == [k for _, k in ENGLISH]
    assert extra["english_filter"] == f"fasttext:{tmp_path / 'assets' / 'lid.176.bin'}"


def test_no_model_is_a_one_line_error_unless_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("SELBENCH_ASSETS", str(tmp_path / "none"))
    pool = make_pool(tmp_path / "p", [t for t, _ in ENGLISH], english=False)
    for cls in (DataCompBasic, DataCompText, DataCompImage, DataCompImageClip):
        with pytest.raises(SelbenchError, match="lid.176.bin") as err:
            select(cls, pool, {}, Budget(natural=True))
        assert "\n" not in str(err.value)
    mask, extra = select(DataCompBasic, pool, {"english": "skip"}, Budget(natural=True))
    assert mask.all() and extra["english_filter"] == "skipped (strategy.english=skip)"
    with pytest.raises(SelbenchError, match="english='maybe' is not one of"):
        select(DataCompBasic, pool, {"english": "maybe"}, Budget(natural=True))
    with pytest.raises(SelbenchError, match="fasttext_model=.*not found"):
        select(DataCompBasic, pool, {"fasttext_model": str(tmp_path / "x.bin")}, Budget(natural=True))


def test_caption_words_count_as_fasttext_tokenizes():
    from baselines.datacomp_filters import caption_words
    pytest.importorskip("fasttext")
    assert caption_words("one") == 1 and caption_words("one\ntwo") == 3  # a newline is a token
    assert caption_words("tab\tseparated  words") == 3


# ----- text -----------------------------------------------------------------------------------
TEXT = [("a photo of a dog", True),
        ("the of and", False),
        ("two dogs", True),        # noun plural -> "dog"
        ("a b c", False),          # single letters are not taken as synset names
        ("Cat!", False),           # words are not stripped of punctuation (as DataComp)
        ("CAT", True),             # lowercased
        ("", False),
        ("photo", False),
        ("ponies at the zoo", True),
        ("boxes", True)]


def test_text_filter(tmp_path):
    pool = make_pool(tmp_path / "p", [t for t, _ in TEXT])
    mask, extra = select(DataCompText, pool, {}, Budget(natural=True))
    assert mask.tolist() == [k for _, k in TEXT]
    assert extra["english_filter"] == "english by construction (pool.json)"


def test_in21k_lemmas():
    lemmas = in21k_lemmas()
    assert len(lemmas) > 20000 and {"dog", "ice_cream", "tabby"} <= lemmas and "a" not in lemmas
    assert names_in21k("Churches", lemmas) and not names_in21k("xyzzy", lemmas)


# ----- image-based ----------------------------------------------------------------------------
E = np.eye(4)


def image_pool(tmp_path, targets):
    """10 rows: 0-4 near axis 0, 5-9 near axis 1; row 4 and row 9 have short captions."""
    rng = np.random.default_rng(3)
    img = np.concatenate([E[[0] * 5], E[[1] * 5]]) + 0.05 * rng.normal(size=(10, 4))
    img = unit_rows(img)
    txt = unit_rows(img + 0.05 * np.arange(10)[:, None] * rng.normal(size=(10, 4)))
    texts = ["a long caption"] * 4 + ["short"] + ["another caption"] * 4 + ["x"]
    np.save(tmp_path / "targets.npy", targets.astype(np.float32))
    np.save(tmp_path / "centroids.npy", E[:3].astype(np.float32))
    return make_pool(tmp_path / "p", texts, img=img, txt=txt), img, txt


def test_image_filter_with_centroids(tmp_path):
    pool, _, _ = image_pool(tmp_path, np.array([[0.9, 0.1, 0, 0]]))
    params = {"centroids": str(tmp_path / "centroids.npy"), "target": str(tmp_path / "targets.npy")}
    mask, extra = select(DataCompImage, pool, params, Budget(natural=True))
    assert np.flatnonzero(mask).tolist() == [0, 1, 2, 3]
    assert extra["target_clusters"] == 1 and extra["caption_survivors"] == 8


def test_image_filter_with_datacomps_released_files(tmp_path, monkeypatch):
    # DataComp's files as it saves them: centroids = torch.save(numpy array); ImageNet-1k
    # embeddings = torch.save({"image_features": tensor}) in five parts
    import torch

    pool, _, _ = image_pool(tmp_path, np.array([[0.9, 0.1, 0, 0]]))
    assets = tmp_path / "assets"
    assets.mkdir()
    monkeypatch.setenv("SELBENCH_ASSETS", str(assets))
    params = {"centroids": "datacomp:small", "target": "datacomp:in1k"}
    with pytest.raises(SelbenchError, match=r"small_centroids_l14.pt not found.*download-assets only=\[centroids_small\]"):
        select(DataCompImage, pool, params, Budget(natural=True))
    torch.save(E[:3].astype(np.float32), assets / "small_centroids_l14.pt")
    with pytest.raises(SelbenchError, match=r"in1k_clip_vit_l14_0.pt not found"):
        select(DataCompImage, pool, params, Budget(natural=True))
    for i in range(5):  # only part 2 points at axis 1: centroid 1 is a target, 0 and 2 are not
        t = np.array([[0, 0.1, 0.9, 0]] if i != 2 else [[0.1, 0.9, 0, 0]], np.float32)
        torch.save({"image_features": torch.from_numpy(t)}, assets / f"in1k_clip_vit_l14_{i}.pt")
    mask, extra = select(DataCompImage, pool, params, Budget(natural=True))
    assert np.flatnonzero(mask).tolist() == [5, 6, 7, 8]
    assert extra["kmeans"] == "DataComp's released small centroids (exact)" and extra["clusters"] == 3
    assert "in1k_clip_vit_l14_0..4" in extra["target"]
    with pytest.raises(SelbenchError, match="expected datacomp:small"):
        select(DataCompImage, pool, {**params, "centroids": "datacomp:tiny"}, Budget(natural=True))


def test_image_filter_kmeans(tmp_path):
    rng = np.random.default_rng(0)
    img = unit_rows(np.concatenate([E[[0] * 40], E[[2] * 40]]) + 0.05 * rng.normal(size=(80, 4)))
    np.save(tmp_path / "t.npy", np.array([[0, 0.1, 1, 0]], np.float32))
    pool = make_pool(tmp_path / "p", ["a fine caption"] * 80, img=img, shard_size=30)
    params = {"target": str(tmp_path / "t.npy"), "clusters": 10}
    mask, extra = select(DataCompImage, pool, params, Budget(natural=True))
    assert extra["clusters"] == 2  # 80 rows // 39 points per centroid
    assert np.flatnonzero(mask).tolist() == list(range(40, 80))
    again, _ = select(DataCompImage, pool, params, Budget(natural=True))
    assert again.tolist() == mask.tolist()


def test_image_clip_intersection(tmp_path):
    pool, img, txt = image_pool(tmp_path, np.array([[0.9, 0.1, 0, 0]]))
    params = {"centroids": str(tmp_path / "centroids.npy"), "target": str(tmp_path / "targets.npy"),
              "clip_fraction": 0.5}
    mask, extra = select(DataCompImageClip, pool, params, Budget(natural=True))
    scores = (img.astype(np.float32) * txt.astype(np.float32)).sum(1)
    threshold = np.sort(scores)[::-1][5]  # DataComp: index int(10 * 0.5) of the sorted scores
    assert extra["clip_threshold"] == pytest.approx(threshold, rel=1e-6)
    expected = [i for i in range(4) if scores[i] >= threshold]
    assert np.flatnonzero(mask).tolist() == expected and len(expected) > 0


def test_image_clip_reads_the_stored_score_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool, img, txt = image_pool(tmp_path, np.array([[0.9, 0.1, 0, 0]]))
    stored = np.linspace(0.9, 0.0, 10)  # ranks rows 0..9 in order, whatever f.g says
    for path in sorted(pool.glob("0*.parquet")):
        t = pq.read_table(path)
        n0 = int(path.stem) * 4
        pq.write_table(t.append_column("clip_l14_similarity_score",
                                       pa.array(stored[n0:n0 + len(t)].astype(np.float32))), path)
    params = {"centroids": str(tmp_path / "centroids.npy"), "target": str(tmp_path / "targets.npy"),
              "clip_fraction": 0.2}
    mask, extra = select(DataCompImageClip, pool, params, Budget(natural=True))
    # threshold = stored value at index int(10 * 0.2) = 2 -> rows 0, 1, 2 pass; image filter keeps 0-3
    assert np.flatnonzero(mask).tolist() == [0, 1, 2]
    assert extra["score_source"] == "column clip_l14_similarity_score"
    assert extra["clip_threshold"] == pytest.approx(float(np.float32(stored[2])))


def test_image_default_target_and_end_to_end(tmp_path):
    info = {"evalsets": "evalsets", "imagenet_analog": "objects"}
    texts = ["a long caption"] * 10
    img = unit_rows(np.random.default_rng(0).normal(size=(10, 4)))
    pool = make_pool(tmp_path / "p", texts, img=img, info=info)
    with pytest.raises(SelbenchError, match="train_l14_img.npy: target embeddings not found"):
        select(DataCompImage, pool, {}, Budget(natural=True))
    (pool / "evalsets" / "objects").mkdir(parents=True)
    np.save(pool / "evalsets" / "objects" / "train_l14_img.npy", img[:2].astype(np.float32))
    manifest = run_selection(pool, "datacomp_image", {}, Budget(natural=True), 0,
                             tmp_path / "s.npy", progress=False)
    assert manifest["selected"] == 10 and manifest["extra"]["clusters"] == 1


def test_image_bad_input(tmp_path):
    pool, _, _ = image_pool(tmp_path, np.ones((2, 3)))
    with pytest.raises(SelbenchError, match=r"shape \(2, 3\), expected \(rows, 4\)"):
        select(DataCompImage, pool, {"centroids": str(tmp_path / "centroids.npy"),
                                     "target": str(tmp_path / "targets.npy")}, Budget(natural=True))
    with pytest.raises(SelbenchError, match="strategy.target"):
        select(DataCompImage, pool, {}, Budget(natural=True))
