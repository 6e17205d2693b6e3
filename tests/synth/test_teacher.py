"""The embedded benchmark's teacher: training, save/load, encoders, and quality on drawn shapes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from harness.errors import SelbenchError
from harness.synth.teacher import Teacher, batch_schedule, train_teacher

SHAPES = ["circle", "square", "triangle", "cross", "ring", "diamond", "bar", "frame"]
COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220),
           "yellow": (235, 220, 30), "purple": (150, 40, 190), "orange": (245, 140, 20),
           "white": (250, 250, 250), "black": (10, 10, 10)}
TEMPLATES = ["a {c}", "a photo of a {c}", "a drawing of a {c}"]


def draw_shape(shape: str, colour: tuple, rng: np.random.Generator) -> np.ndarray:
    """One 32x32 RGB uint8 image of ``shape`` in ``colour`` at a random size and place."""
    bg = tuple(int(v) for v in rng.integers(90, 170, size=3))
    img = Image.new("RGB", (32, 32), bg)
    d = ImageDraw.Draw(img)
    r = int(rng.integers(7, 13))
    cx, cy = (int(v) for v in rng.integers(r + 1, 32 - r - 1, size=2))
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        d.ellipse(box, fill=colour)
    elif shape == "square":
        d.rectangle(box, fill=colour)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif shape == "cross":
        w = max(2, r // 3)
        d.rectangle((cx - w, cy - r, cx + w, cy + r), fill=colour)
        d.rectangle((cx - r, cy - w, cx + r, cy + w), fill=colour)
    elif shape == "ring":
        d.ellipse(box, outline=colour, width=3)
    elif shape == "diamond":
        d.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    elif shape == "bar":
        d.rectangle((cx - r, cy - 3, cx + r, cy + 3), fill=colour)
    else:
        d.rectangle(box, outline=colour, width=3)
    return np.asarray(img, dtype=np.uint8)


def shape_set(n: int, seed: int):
    """``n`` drawn images, captions naming shape and colour in varied templates, shape labels."""
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    shapes = rng.integers(0, len(SHAPES), n)
    colours = rng.integers(0, len(names), n)
    forms = ["a {col} {s}", "a {s} in {col}", "{col} {s} on a plain background",
             "photo of a {col} {s}", "the {s}, {col}", "a {s}"]
    images = np.stack([draw_shape(SHAPES[s], COLOURS[names[c]], rng) for s, c in zip(shapes, colours)])
    captions = [forms[rng.integers(len(forms))].format(col=names[c], s=SHAPES[s])
                for s, c in zip(shapes, colours)]
    return images, captions, shapes


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of scores ``pos`` over ``neg`` (probability a positive outranks a negative)."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(y, np.r_[pos, neg]))


def quality(teacher: Teacher, seed: int = 99, n: int = 2000) -> tuple[float, float]:
    """(AUC of matched vs shuffled caption scores, zero-shot shape accuracy) on held-out shapes."""
    images, captions, shapes = shape_set(n, seed)
    f, g = teacher.encode_images(images), teacher.encode_texts(captions)
    perm = np.random.default_rng(seed).permutation(n)
    wrong = perm != np.arange(n)
    auc = roc_auc((f * g).sum(1), (f * g[perm]).sum(1)[wrong])
    classes = teacher.class_embeddings(SHAPES, TEMPLATES)
    acc = float(((f @ classes.T).argmax(1) == shapes).mean())
    return auc, acc


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A teacher trained for 3 steps of 16 pairs (seed 0): (Teacher, out_dir, images, captions)."""
    images, captions, _ = shape_set(48, seed=3)
    out = tmp_path_factory.mktemp("teacher")
    teacher = train_teacher(images, captions, out, seed=0, epochs=1.0, batch_size=16, progress=False)
    return teacher, out, images, captions


def test_files_and_record(tiny):
    teacher, out, images, _ = tiny
    info = json.loads((out / "teacher.json").read_text())
    assert (out / "teacher.pt").is_file()
    assert info["model"] == teacher.model_name == "selbench-teacher" and teacher.arch == "teacher"
    assert info["steps"] == 3 and info["samples_seen"] == 48 and info["seed"] == 0
    assert info["temperature"] == pytest.approx(0.01, rel=1e-5) == teacher.temperature
    assert np.isfinite(info["final_loss"]) and info["versions"]["torch"]


def test_load_round_trip_and_unit_norm(tiny):
    teacher, out, images, captions = tiny
    again = Teacher.load(out)
    f, g = teacher.encode_images(images), teacher.encode_texts(captions)
    assert f.dtype == g.dtype == np.float32 and f.shape == g.shape == (48, 128)
    np.testing.assert_array_equal(f, again.encode_images(images))
    np.testing.assert_array_equal(g, again.encode_texts(captions))
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(f[:7], teacher.encode_images(images[:7], batch_size=3), atol=1e-6)
    assert again.temperature == pytest.approx(0.01, rel=1e-5)


def test_same_seed_same_weights_other_seed_differs(tiny, tmp_path):
    teacher, _, images, captions = tiny
    same = train_teacher(images, captions, tmp_path / "a", seed=0, epochs=1.0, batch_size=16, progress=False)
    other = train_teacher(images, captions, tmp_path / "b", seed=1, epochs=1.0, batch_size=16, progress=False)
    a, b, c = teacher.model.state_dict(), same.model.state_dict(), other.model.state_dict()
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert not all(np.array_equal(a[k].numpy(), c[k].numpy()) for k in a)


def test_finished_teacher_is_reused(tiny):
    teacher, out, images, captions = tiny
    stamp = (out / "teacher.pt").stat().st_mtime_ns
    again = train_teacher(images, captions, out, seed=0, epochs=1.0, batch_size=16, progress=False)
    assert (out / "teacher.pt").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.encode_images(images[:4]), teacher.encode_images(images[:4]))


def test_encode_images_matches_open_clip_preprocess(tiny):
    import open_clip
    import torch

    teacher, _, images, _ = tiny
    _, _, preprocess = open_clip.create_model_and_transforms("selbench-teacher")
    batch = torch.stack([preprocess(Image.fromarray(im)) for im in images[:8]])
    with torch.no_grad():
        ref = teacher.model.encode_image(batch, normalize=True).numpy()
    np.testing.assert_allclose(teacher.encode_images(images[:8]), ref, atol=1e-5)


def test_class_embeddings_follow_clip_benchmark(tiny):
    teacher = tiny[0]
    classes = teacher.class_embeddings(SHAPES[:3], TEMPLATES)
    assert classes.shape == (3, 128) and classes.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(classes, axis=1), 1, atol=1e-5)
    per_template = teacher.encode_texts([t.format(c=SHAPES[1]) for t in TEMPLATES])
    mean = per_template.mean(0)
    np.testing.assert_allclose(classes[1], mean / np.linalg.norm(mean), atol=1e-6)


def test_batch_schedule_is_epochwise_and_seeded():
    batches = list(batch_schedule(10, 6, 4, seed=5))
    assert [len(b) for b in batches] == [4] * 6
    epoch = np.concatenate(batches[:2])
    assert len(np.unique(epoch)) == 8
    assert all(np.array_equal(x, y) for x, y in zip(batches, batch_schedule(10, 6, 4, seed=5)))


@pytest.mark.parametrize("images, captions, message", [
    (np.zeros((2, 32, 32, 3), np.float32), ["a", "b"], "uint8"),
    (np.zeros((2, 64, 64, 3), np.uint8), ["a", "b"], "shape"),
    (np.zeros((2, 32, 32), np.uint8), ["a", "b"], "shape"),
    (np.zeros((0, 32, 32, 3), np.uint8), [], "empty"),
    (np.zeros((2, 32, 32, 3), np.uint8), [], "empty"),
    (np.zeros((2, 32, 32, 3), np.uint8), ["a"], "2 images but 1 captions"),
    (np.zeros((2, 32, 32, 3), np.uint8), ["a", 3], r"captions\[1\] is int"),
    ([[0]], ["a"], "numpy array"),
])
def test_bad_training_input_raises_one_line(tmp_path, images, captions, message):
    with pytest.raises(SelbenchError, match=message) as err:
        train_teacher(images, captions, tmp_path / "t", progress=False)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "t" / "teacher.pt").exists()


def test_bad_encode_input_and_missing_checkpoint(tiny, tmp_path):
    teacher = tiny[0]
    with pytest.raises(SelbenchError, match="uint8"):
        teacher.encode_images(np.zeros((1, 32, 32, 3), np.float64))
    with pytest.raises(SelbenchError, match="texts is empty"):
        teacher.encode_texts([])
    with pytest.raises(SelbenchError, match="teacher.json not found"):
        Teacher.load(tmp_path)


@pytest.mark.slow
def test_teacher_learns_shapes_and_colours(tmp_path):
    """Quality: matched vs shuffled captions AUC >= 0.9, zero-shot shape accuracy >> chance."""
    images, captions, _ = shape_set(8000, seed=1)
    teacher = train_teacher(images, captions, tmp_path, seed=0, epochs=4.0, batch_size=256, progress=False)
    auc, acc = quality(teacher)
    assert auc >= 0.9
    assert acc >= 2.5 / len(SHAPES)
