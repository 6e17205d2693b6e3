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


def test_full_detail_mentions_every_attribute_and_colour_at_its_own_rate():
    rng = np.random.default_rng(1)
    scene = {"concept": 3, "color": 2, "texture": 1, "size": 1, "count": 1, "position": 0, "background": 1}
    colour = 0
    for _ in range(2000):
        text = cap.object_caption(scene, rng, detail=1.0).lower()
        assert any(s in text for s in ("medium", "mid-sized")), text            # size
        assert any(s in text for s in ("striped", "stripy", "stripes")), text    # texture
        assert any(s in text for s in ("top left", "upper left")), text          # position
        colour += any(s in text for s in COLORS["blue"][1])
    # colour is mentioned with probability COLOR_MENTION whatever the detail (binomial sd 0.01)
    assert abs(colour / 2000 - cap.COLOR_MENTION) < 0.04


def test_common_words_dominate():
    rng = np.random.default_rng(3)
    words = [cap.concept_noun(0, rng) for _ in range(3000)]
    synonyms = CONCEPTS[0].synonyms
    share = words.count(synonyms[0]) / len(words)
    expected = cap.CANONICAL_SHARE + (1 - cap.CANONICAL_SHARE) / len(synonyms)
    assert abs(share - expected) < 0.03
    assert set(words) == set(synonyms)


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
