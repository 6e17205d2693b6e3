import numpy as np

from harness.synth.real import digit_parts, photo_crop, render_digit, render_face
from harness.synth.scenes import render_scene, sample_scenes, scene_at
from harness.synth.shapes import concept_mask, outline_mask
from harness.synth.text_images import render_text
from harness.synth.vocab import CONCEPTS


def test_at_least_40_concepts_with_distinct_visible_masks():
    assert len(CONCEPTS) >= 40
    masks = [concept_mask(i, 16) for i in range(len(CONCEPTS))]
    for m in masks:
        assert 0.05 < m.mean() < 0.95
    flat = np.stack([m.ravel() for m in masks])
    dist = np.abs(flat[:, None] - flat[None]).mean(-1)
    np.fill_diagonal(dist, 1)
    assert dist.min() > 0.02
    assert outline_mask(0, 16).sum() < masks[0].sum()


def test_render_is_deterministic_and_seed_dependent():
    scenes = sample_scenes(20, np.random.default_rng(3))
    a = [render_scene(scene_at(scenes, i), np.random.default_rng(i)) for i in range(20)]
    b = [render_scene(scene_at(scenes, i), np.random.default_rng(i)) for i in range(20)]
    c = [render_scene(scene_at(scenes, i), np.random.default_rng(i + 100)) for i in range(20)]
    assert all(x.shape == (32, 32, 3) and x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c))


def test_object_colour_shows_in_the_image():
    scene = {"concept": 0, "color": 0, "texture": 0, "size": 2, "count": 1, "position": 4, "background": 0}
    img = render_scene(scene, np.random.default_rng(0)).astype(int)
    centre = img[12:20, 12:20].mean((0, 1))
    assert centre[0] > 150 and centre[1] < 90 and centre[2] < 90  # red disc in the middle


def test_count_places_that_many_objects():
    from scipy import ndimage

    for count in (1, 2, 3, 4):
        scene = {"concept": 1, "color": 2, "texture": 0, "size": 0, "count": count,
                 "position": -1 if count > 1 else 4, "background": 0}
        img = render_scene(scene, np.random.default_rng(count)).astype(int)
        ink = img[..., 2] - img[..., 0] > 80  # blue on white
        assert ndimage.label(ink)[1] == count


def test_real_sources_render_offline():
    rng = np.random.default_rng(0)
    parts = digit_parts({"a": 0.5, "b": 0.5})
    assert not set(parts["a"]) & set(parts["b"]) and len(parts["a"]) + len(parts["b"]) == 1797
    for img in (render_digit(0, rng), photo_crop("coffee", rng), render_face(0, rng),
                render_text("so good", rng)):
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.std() > 5
