"""The embedded benchmark's vocabulary: object concepts, attributes and their synonyms.

Every concept has a canonical name (the evaluation class name), synonyms used in
captions, and a drawing kind understood by ``harness.synth.shapes``. Attributes (colour,
texture, size, position, background, count) have canonical names (evaluation classes)
and caption phrasings.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    """One object concept: ``name`` (class name), caption ``synonyms``, drawing ``kind``."""

    name: str
    synonyms: tuple[str, ...]
    kind: str          # "shape", "glyph" or "icon"
    glyph: str = ""    # the character drawn for glyph concepts


def _shape(name, *syn):
    return Concept(name, (name, *syn), "shape")


def _glyph(name, char, *syn):
    return Concept(name, (name, *syn), "glyph", char)


def _icon(name, *syn):
    return Concept(name, (name, *syn), "icon")


CONCEPTS: tuple[Concept, ...] = (
    _shape("circle", "disc", "round dot"),
    _shape("square", "box shape", "quadrat"),
    _shape("triangle", "trigon", "three-sided shape"),
    _shape("star", "five-pointed star", "star shape"),
    _shape("heart", "love heart", "heart symbol"),
    _shape("diamond", "rhombus", "lozenge"),
    _shape("cross", "plus sign", "plus shape"),
    _shape("ring", "hoop", "donut shape"),
    _shape("hexagon", "six-sided shape", "hex tile"),
    _shape("pentagon", "five-sided shape"),
    _shape("crescent", "crescent moon", "half moon"),
    _shape("arrow", "pointer", "arrow sign"),
    _shape("oval", "ellipse", "egg shape"),
    _shape("bar", "rectangle", "stripe block"),
    _shape("trapezoid", "trapezium"),
    _shape("octagon", "eight-sided shape", "stop-sign shape"),
    _glyph("letter a", "A", "capital a", "character a"),
    _glyph("letter b", "B", "capital b", "character b"),
    _glyph("letter e", "E", "capital e", "character e"),
    _glyph("letter g", "G", "capital g", "character g"),
    _glyph("letter k", "K", "capital k", "character k"),
    _glyph("letter m", "M", "capital m", "character m"),
    _glyph("letter r", "R", "capital r", "character r"),
    _glyph("letter s", "S", "capital s", "character s"),
    _glyph("letter x", "X", "capital x", "character x"),
    _glyph("letter z", "Z", "capital z", "character z"),
    _glyph("at sign", "@", "at symbol", "email symbol"),
    _glyph("hash sign", "#", "hashtag", "pound symbol"),
    _glyph("question mark", "?", "question symbol"),
    _glyph("ampersand", "&", "and sign"),
    _glyph("percent sign", "%", "percent symbol"),
    _glyph("dollar sign", "$", "dollar symbol", "money sign"),
    _icon("house", "home", "little house"),
    _icon("tree", "pine tree", "fir tree"),
    _icon("flower", "blossom", "daisy"),
    _icon("sun", "sunshine icon", "shining sun"),
    _icon("cloud", "fluffy cloud", "cloud icon"),
    _icon("umbrella", "parasol", "rain umbrella"),
    _icon("cup", "mug", "coffee cup"),
    _icon("fish", "little fish", "fish icon"),
    _icon("mushroom", "toadstool", "fungus"),
    _icon("lollipop", "sucker", "candy on a stick"),
    _icon("bowtie", "bow tie", "bow"),
    _icon("hourglass", "sand timer", "egg timer"),
    _icon("lightning bolt", "lightning", "thunderbolt"),
    _icon("envelope", "paper envelope", "mail icon"),
    _icon("flag", "banner", "pennant"),
    _icon("key", "door key", "house key"),
)

CONCEPT_NAMES: tuple[str, ...] = tuple(c.name for c in CONCEPTS)

# colour name -> (RGB, caption synonyms)
COLORS: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {
    "red": ((215, 35, 35), ("red", "scarlet", "crimson")),
    "green": ((40, 170, 60), ("green", "emerald", "grass-green")),
    "blue": ((35, 75, 215), ("blue", "royal blue", "cobalt")),
    "yellow": ((240, 215, 30), ("yellow", "lemon", "golden")),
    "orange": ((245, 135, 25), ("orange", "tangerine", "amber")),
    "purple": ((135, 45, 175), ("purple", "violet", "lilac")),
    "pink": ((245, 120, 190), ("pink", "rose", "magenta")),
    "cyan": ((30, 200, 215), ("cyan", "turquoise", "aqua")),
    "brown": ((125, 75, 35), ("brown", "chocolate", "tan")),
    "black": ((25, 25, 25), ("black", "jet-black", "dark")),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)

TEXTURES: dict[str, tuple[str, ...]] = {
    "solid": ("solid", "plain", "flat-coloured"),
    "striped": ("striped", "stripy", "with stripes"),
    "dotted": ("dotted", "polka-dot", "spotted"),
    "checkered": ("checkered", "chequered", "checkerboard"),
}
TEXTURE_NAMES: tuple[str, ...] = tuple(TEXTURES)

SIZES: dict[str, tuple[float, tuple[str, ...]]] = {
    "small": (0.34, ("small", "tiny", "little")),
    "medium": (0.5, ("medium", "medium-sized", "mid-sized")),
    "large": (0.72, ("large", "big", "huge")),
}
SIZE_NAMES: tuple[str, ...] = tuple(SIZES)

# position name -> (centre as a fraction of the canvas, caption phrasings)
POSITIONS: dict[str, tuple[tuple[float, float], tuple[str, ...]]] = {
    "top left": ((0.27, 0.27), ("in the top left corner", "at the upper left", "top left")),
    "top right": ((0.73, 0.27), ("in the top right corner", "at the upper right", "top right")),
    "bottom left": ((0.27, 0.73), ("in the bottom left corner", "at the lower left", "bottom left")),
    "bottom right": ((0.73, 0.73), ("in the bottom right corner", "at the lower right", "bottom right")),
    "center": ((0.5, 0.5), ("in the center", "in the middle", "centered")),
}
POSITION_NAMES: tuple[str, ...] = tuple(POSITIONS)

# background name -> (RGB, caption phrasings)
BACKGROUNDS: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {
    "white": ((245, 245, 245), ("on a white background", "on white", "isolated on white")),
    "gray": ((170, 170, 170), ("on a gray background", "on grey", "against a gray backdrop")),
    "beige": ((235, 220, 190), ("on a beige background", "on cream paper", "on a beige backdrop")),
    "sky": ((170, 205, 240), ("against a light blue sky", "on a sky-blue background", "on pale blue")),
    "mint": ((200, 235, 205), ("on a mint background", "on pale green", "on a light green backdrop")),
}
BACKGROUND_NAMES: tuple[str, ...] = tuple(BACKGROUNDS)

COUNT_WORDS: dict[int, tuple[str, ...]] = {
    1: ("one", "a single", "one single"),
    2: ("two", "a pair of", "a couple of"),
    3: ("three", "a trio of", "three"),
    4: ("four", "a group of four", "four"),
}
COUNT_NAMES: tuple[str, ...] = ("one", "two", "three", "four")

DIGIT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six",
                                "seven", "eight", "nine")

# Rendered-SST2-like phrases: short enough to be legible at 32 x 32 pixels.
POSITIVE_WORDS: tuple[str, ...] = ("great", "superb", "lovely", "good", "fun", "best", "joy",
                                   "brilliant", "wow", "nice", "love it", "so good", "a gem",
                                   "top", "cool", "warm")
NEGATIVE_WORDS: tuple[str, ...] = ("awful", "bad", "dull", "boring", "worst", "weak", "mess",
                                   "poor", "ugly", "flat", "hate it", "so bad", "a bore",
                                   "meh", "sad", "lame")
