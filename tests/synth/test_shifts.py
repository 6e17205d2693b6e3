import hashlib

import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.synth import evalsets as ev
from harness.synth.corrupt import shift_corruption
from harness.synth.presets import load_preset
from harness.synth.scenes import render_scene, sample_scenes, scene_at
from harness.synth.shapes import concept_mask, outline_mask
from harness.synth.shifts import LEVELS, shift_levels, shift_setting

# sha256 (first 12 hex) of draw_split(task, "test", 100, seed 0) drawn by generator version 2,
# before severity levels existed: level 5 must draw exactly that.
V2_DIGESTS = {"objects_sketch": "bb38318d4dc8", "objects_corrupt": "f1ccb1b3d23b",
              "objects_background": "4a69925f0682"}


def _digest(split) -> str:
    return hashlib.sha256(split.images.tobytes() + str(split.targets).encode()).hexdigest()[:12]


@pytest.mark.parametrize("task", sorted(V2_DIGESTS))
def test_level_5_draws_what_generator_v2_drew(task):
    assert _digest(ev.draw_split(task, "test", 100, 0, level=5)) == V2_DIGESTS[task]
    assert _digest(ev.draw_split(task, "test", 100, 0, level=1)) != V2_DIGESTS[task]


def test_levels_leave_labels_and_other_tasks_alone():
    for task in LEVELS:
        a, b = ev.draw_split(task, "test", 96, 3, level=1), ev.draw_split(task, "test", 96, 3, level=5)
        assert a.targets == b.targets
    assert _digest(ev.draw_split("objects", "test", 96, 3, level=1)) == _digest(ev.draw_split("objects", "test", 96, 3))


def test_milder_corruption_stays_closer_to_the_image():
    scenes = sample_scenes(40, np.random.default_rng(0), count_p=(1, 0, 0, 0))
    errors = {}
    for level in (1, 3, 5):
        setting = shift_setting("objects_corrupt", level)
        err = []
        for i in range(40):
            clean = render_scene(scene_at(scenes, i), np.random.default_rng(i))
            shifted = shift_corruption(clean, np.random.default_rng(1000 + i), setting)
            err.append(np.abs(shifted.astype(float) - clean).mean())
        errors[level] = float(np.mean(err))
    assert errors[1] < errors[3] < errors[5]


def test_background_opacity_blends_photo_over_plain_colour():
    photo = np.full((32, 32, 3), 200, np.uint8)
    plain = np.array([100.0, 50.0, 0.0], np.float32)
    assert (ev._backdrop(photo, plain, 1.0) == 200).all()
    half = ev._backdrop(photo, plain, 0.5)
    assert half[0, 0].tolist() == [150, 125, 100]
    assert ev._backdrop(photo, plain, 0.0)[5, 5].tolist() == [100, 50, 0]


def test_sketch_band_and_shading_cover_more_of_the_shape():
    thin, thick = outline_mask(3, 20, 1), outline_mask(3, 20, 3)
    assert thin.sum() < thick.sum() <= concept_mask(3, 20).sum() + 1e-6
    assert (thick >= thin - 1e-6).all()


def test_presets_choose_levels_and_absent_means_harshest():
    assert shift_levels(load_preset("tiny").get("shifts")) == {t: 1 for t in LEVELS}
    assert shift_levels(None) == {t: 5 for t in LEVELS}
    assert shift_levels({"objects_sketch": 2})["objects_sketch"] == 2


@pytest.mark.parametrize("task, level, message", [
    ("objects", 1, "not a shift task"),
    ("objects_sketch", 0, "integer 1-5, got 0"),
    ("objects_sketch", True, "integer 1-5, got True"),
    ("objects_background", 2.0, "integer 1-5, got 2.0"),
])
def test_bad_levels_are_one_line_errors(task, level, message):
    with pytest.raises(SelbenchError, match=message):
        shift_setting(task, level)
