import numpy as np

from harness.synth import captions as cap
from harness.synth.scenes import sample_scenes, scene_at
from harness.synth.vocab import COLORS, CONCEPTS


def test_object_captions_name_the_concept_and_vary():
    rng = np.random.default_rng(0)
    scenes = sample_scenes(300, rng)
    texts = []
    for i in range(300):
        scene = scene_at(scenes, i)
        text = cap.object_caption(scene, rng).lower()
        stems = [s.split()[-1][:4] for s in CONCEPTS[scene["concept"]].synonyms]
        assert any(st in text for st in stems), text
        texts.append(text)
    assert len(set(texts)) > 280


def test_full_detail_mentions_the_colour():
    rng = np.random.default_rng(1)
    scene = {"concept": 3, "color": 2, "texture": 0, "size": 1, "count": 1, "position": 0, "background": 1}
    for _ in range(20):
        text = cap.object_caption(scene, rng, detail=1.0).lower()
        assert any(s in text for s in COLORS["blue"][1])


def test_plurals():
    assert cap._plural("star") == "stars"
    assert cap._plural("box shape") == "box shapes"
    assert cap._plural("at sign", "glyph") == "at signs"
    assert cap._plural("letter s", "glyph") == "letter s characters"
    assert cap._plural("A", "glyph") == "As"


def test_defect_captions_say_nothing_specific():
    rng = np.random.default_rng(2)
    names = {c.name for c in CONCEPTS}
    for _ in range(50):
        for text in (cap.uninformative_caption(rng), cap.generic_caption(rng)):
            assert not any(n in text.lower().split() for n in names if " " not in n)
