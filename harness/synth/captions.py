"""Alt-text-like captions from templates with synonyms, varying detail and word order."""
from __future__ import annotations

import numpy as np

from harness.synth.real import PHOTOS
from harness.synth.vocab import (BACKGROUNDS, COLORS, CONCEPTS, COUNT_WORDS, DIGIT_WORDS,
                                 POSITIONS, SIZES, TEXTURES)

_COLOR_SYN = [v[1] for v in COLORS.values()]
_TEXTURE_SYN = list(TEXTURES.values())
_SIZE_SYN = [v[1] for v in SIZES.values()]
_POS_SYN = [v[1] for v in POSITIONS.values()]
_BG_SYN = [v[1] for v in BACKGROUNDS.values()]
# Web alt-text names the object and only now and then describes it: each attribute is
# mentioned with probability ``detail`` ~ U(DETAIL_RANGE) per caption (mean 0.15). With
# detail ~ U(0.2, 0.9) (generator version 1) colour, count, texture and background words
# made every caption unique within a batch, so contrastive training matched pairs on those
# easy attributes and never learned the objects: the teacher reached 0.05 on `objects`
# (chance 0.021). Measured on the teacher's clean pairs by the procedure of
# tools/calibrate_miniature.py, with these constants varied (runs in harness/conf/scale/tiny.yaml).
DETAIL_RANGE = (0.0, 0.3)
# People mostly use the common word for a thing; synonyms are rarer (Zipf-like word
# choice): the canonical word (an object's or attribute's class name) is used with this
# probability, else a synonym drawn uniformly (the canonical word included).
CANONICAL_SHARE = 0.5
# Colour is the attribute web captions name most often ("red car", "black dress"): it is
# mentioned with this probability, independently of ``detail``. Calibrated on the teacher's
# clean pairs (ResNet student model, 600 steps of 128): at 0.4 students learn colour (zero-shot
# 0.80) but learn the objects later (0.39 vs 0.65-0.66 at 0.2-0.3); at 0.3 and below colour
# stays at chance within that compute.
COLOR_MENTION = 0.3
_LEADS = ("", "", "a picture of ", "an icon of ", "clipart of ", "a drawing of ",
          "vector illustration of ", "a photo of ", "sticker: ")
_UNINFORMATIVE = ("IMG_{n:04d}.jpg", "DSC{n:05d}.JPG", "click here", "stock photo",
                  "image {n}", "untitled-{n}", "thumbnail", "photo {n} of {m}", "download now",
                  "{n}.png", "screenshot {n}", "see more", "file_{n}_final.jpg", "banner {n}")
_GENERIC = ("a picture", "an image of something", "nice picture", "beautiful image",
            "high quality graphic", "great design for your project", "wallpaper",
            "a thing", "free image", "best picture ever", "cool art", "an object")


def pick(rng: np.random.Generator, options) -> str:
    """One element of ``options`` drawn with ``rng``."""
    return options[int(rng.integers(0, len(options)))]


def object_caption(scene: dict[str, int], rng: np.random.Generator, detail: float | None = None,
                   noun: str | None = None) -> str:
    """A caption naming the concept (as ``noun`` if given, else a synonym) and, with
    probability ``detail``, each other attribute."""
    detail = rng.uniform(*DETAIL_RANGE) if detail is None else detail
    noun = noun or concept_noun(scene["concept"], rng)
    adjs = []
    if rng.random() < detail and scene["count"] == 1:
        adjs.append(common_word(rng, _SIZE_SYN[scene["size"]]))
    if rng.random() < COLOR_MENTION:
        adjs.append(common_word(rng, _COLOR_SYN[scene["color"]]))
    tex = common_word(rng, _TEXTURE_SYN[scene["texture"]]) if rng.random() < detail else ""
    if tex and not tex.startswith("with"):
        adjs.append(tex)
    count = scene["count"]
    head = f"{pick(rng, COUNT_WORDS[count])} " if count > 1 or rng.random() < 0.15 else ""
    plural = _plural(noun, CONCEPTS[scene["concept"]].kind) if count > 1 else noun
    phrase = " ".join([*adjs, plural])
    if not head:
        phrase = f"{_article(phrase)} {phrase}"
    phrase = head + phrase
    if tex.startswith("with"):
        phrase += f" {tex}"
    extras = []
    if scene["position"] >= 0 and rng.random() < detail:
        extras.append(common_word(rng, _POS_SYN[scene["position"]]))
    if rng.random() < detail * 0.7:
        extras.append(common_word(rng, _BG_SYN[scene["background"]]))
    rng.shuffle(extras)
    lead = pick(rng, _LEADS)
    text = lead + phrase + "".join(f" {e}" for e in extras)
    if rng.random() < 0.25 and extras:  # alternative word order: attributes first
        text = f"{extras[0][0].upper()}{extras[0][1:]}, {lead}{phrase}" + "".join(f" {e}" for e in extras[1:])
    return _finish(text, rng)


def common_word(rng: np.random.Generator, options) -> str:
    """``options[0]`` (the canonical word) with probability ``CANONICAL_SHARE``, else one of
    ``options`` drawn uniformly."""
    return options[0] if rng.random() < CANONICAL_SHARE else pick(rng, options)


def concept_noun(concept: int, rng: np.random.Generator) -> str:
    """The word used for ``concept`` in a caption (``common_word`` over its synonyms)."""
    return common_word(rng, CONCEPTS[concept].synonyms)


def digit_caption(label: int, rng: np.random.Generator) -> str:
    """A caption for a handwritten digit ``label``."""
    word = DIGIT_WORDS[label]
    forms = (f"handwritten digit {label}", f"the number {word} written by hand",
             f"a scan of the digit {label}", f"number {label}", f"{word} ({label}) handwriting",
             f"a handwritten {label}", f"digit {word}")
    return _finish(pick(rng, forms), rng)


def text_caption(phrase: str, sentiment: str | None, rng: np.random.Generator) -> str:
    """A caption for an image of rendered ``phrase`` (``sentiment`` 'positive'/'negative'/None)."""
    forms = [f'the word "{phrase}"', f'a sign that says {phrase}', f"text: {phrase}",
             f'"{phrase}" written in black', f"a note saying {phrase}"]
    if sentiment:
        forms += [f"a {sentiment} review that says {phrase}", f"{sentiment} text: {phrase}",
                  f"a {sentiment} comment: {phrase}"]
    return _finish(pick(rng, forms), rng)


def photo_caption(name: str, rng: np.random.Generator) -> str:
    """A caption for a crop of bundled photograph ``name``."""
    return _finish(pick(rng, PHOTOS[name]), rng)


def face_caption(is_face: bool, rng: np.random.Generator) -> str:
    """A caption for a face / non-face patch."""
    forms = (("portrait of a person", "a face", "headshot", "close-up of a man's face")
             if is_face else ("a blurry gray patch", "background clutter", "gray texture"))
    return _finish(pick(rng, forms), rng)


def uninformative_caption(rng: np.random.Generator) -> str:
    """A file-name-like or boilerplate caption that says nothing about the image."""
    n, m = int(rng.integers(1, 10000)), int(rng.integers(2, 30))
    return pick(rng, _UNINFORMATIVE).format(n=n, m=m)


def generic_caption(rng: np.random.Generator) -> str:
    """A caption that fits every image equally."""
    return pick(rng, _GENERIC)


def _finish(text: str, rng) -> str:
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.2:
        text += "."
    return text


def _article(phrase: str) -> str:
    return "an" if phrase[0] in "aeiou" else "a"


def _plural(noun: str, kind: str = "shape") -> str:
    words = noun.split()
    if len(words) > 1 and words[-1] in ("sign", "symbol", "mark", "shape", "tile", "block", "dot"):
        return " ".join(words[:-1] + [words[-1] + "s"])
    if kind == "glyph":
        return noun + " characters" if len(noun) > 1 else noun + "s"
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith("f"):
        return noun[:-1] + "ves"
    return noun + "s"
