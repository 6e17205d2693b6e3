"""Alpha masks of the object concepts, drawn with PIL (shapes, glyphs, icons).

``concept_mask(index, size)`` returns a float32 ``(size, size)`` alpha mask in [0, 1],
drawn at 4x resolution and box-downsampled (anti-aliased). Masks are cached: they depend
only on the concept and the pixel size, so drawing is deterministic.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from harness.synth.vocab import CONCEPTS

SUPER = 4


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """PIL's bundled default font at ``size`` pixels (offline, no system fonts)."""
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=4096)
def concept_mask(index: int, size: int) -> np.ndarray:
    """Alpha mask (float32, ``size`` x ``size``) of concept ``index``."""
    s = size * SUPER
    img = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(img)
    c = CONCEPTS[index]
    if c.kind == "glyph":
        _glyph(d, c.glyph, s)
    else:
        DRAWERS[c.name](d, s)
    arr = np.asarray(img.resize((size, size), Image.BOX), dtype=np.float32) / 255.0
    arr.setflags(write=False)
    return arr


@lru_cache(maxsize=4096)
def outline_mask(index: int, size: int, band: int = 1) -> np.ndarray:
    """The outline (edge band, ``band`` pixels wide) of ``concept_mask(index, size)``: a
    sketch-like rendering."""
    m = concept_mask(index, size)
    eroded = m
    for _ in range(band):
        pad = np.pad(eroded, 1)
        eroded = np.minimum.reduce([pad[1:-1, 1:-1], pad[:-2, 1:-1], pad[2:, 1:-1],
                                    pad[1:-1, :-2], pad[1:-1, 2:]])
    out = np.clip(m - eroded, 0, 1)
    out = np.clip(out * 1.6, 0, 1).astype(np.float32)
    out.setflags(write=False)
    return out


def _glyph(d: ImageDraw.ImageDraw, char: str, s: int) -> None:
    f = font(int(s * 0.95))
    stroke = max(1, s // 18)
    box = d.textbbox((0, 0), char, font=f, stroke_width=stroke)
    w, h = box[2] - box[0], box[3] - box[1]
    d.text(((s - w) / 2 - box[0], (s - h) / 2 - box[1]), char, font=f, fill=255,
           stroke_width=stroke, stroke_fill=255)


def _poly(n: int, s: int, rot: float = -math.pi / 2, r: float = 0.47):
    c = s / 2
    return [(c + r * s * math.cos(rot + 2 * math.pi * k / n),
             c + r * s * math.sin(rot + 2 * math.pi * k / n)) for k in range(n)]


def _star(d, s):
    pts = []
    for k in range(10):
        r = 0.48 if k % 2 == 0 else 0.2
        a = -math.pi / 2 + math.pi * k / 5
        pts.append((s / 2 + r * s * math.cos(a), s / 2 + r * s * math.sin(a)))
    d.polygon(pts, fill=255)


def _heart(d, s):
    r = s * 0.24
    d.ellipse([s * 0.04, s * 0.1, s * 0.04 + 2 * r, s * 0.1 + 2 * r], fill=255)
    d.ellipse([s * 0.96 - 2 * r, s * 0.1, s * 0.96, s * 0.1 + 2 * r], fill=255)
    d.polygon([(s * 0.06, s * 0.42), (s * 0.94, s * 0.42), (s * 0.5, s * 0.95)], fill=255)


def _crescent(d, s):
    d.ellipse([s * 0.05, s * 0.05, s * 0.95, s * 0.95], fill=255)
    d.ellipse([s * 0.3, s * 0.0, s * 1.1, s * 0.8], fill=0)


def _arrow(d, s):
    d.rectangle([s * 0.05, s * 0.4, s * 0.6, s * 0.6], fill=255)
    d.polygon([(s * 0.55, s * 0.15), (s * 0.97, s * 0.5), (s * 0.55, s * 0.85)], fill=255)


def _house(d, s):
    d.polygon([(s * 0.05, s * 0.48), (s * 0.5, s * 0.05), (s * 0.95, s * 0.48)], fill=255)
    d.rectangle([s * 0.17, s * 0.48, s * 0.83, s * 0.95], fill=255)
    d.rectangle([s * 0.42, s * 0.68, s * 0.58, s * 0.95], fill=0)


def _tree(d, s):
    d.polygon([(s * 0.5, s * 0.02), (s * 0.9, s * 0.72), (s * 0.1, s * 0.72)], fill=255)
    d.rectangle([s * 0.42, s * 0.7, s * 0.58, s * 0.98], fill=255)


def _flower(d, s):
    for k in range(6):
        a = 2 * math.pi * k / 6
        x, y = s / 2 + s * 0.28 * math.cos(a), s / 2 + s * 0.28 * math.sin(a)
        d.ellipse([x - s * 0.18, y - s * 0.18, x + s * 0.18, y + s * 0.18], fill=255)
    d.ellipse([s * 0.38, s * 0.38, s * 0.62, s * 0.62], fill=0)


def _sun(d, s):
    d.ellipse([s * 0.28, s * 0.28, s * 0.72, s * 0.72], fill=255)
    for k in range(8):
        a = 2 * math.pi * k / 8
        d.line([(s / 2 + s * 0.3 * math.cos(a), s / 2 + s * 0.3 * math.sin(a)),
                (s / 2 + s * 0.48 * math.cos(a), s / 2 + s * 0.48 * math.sin(a))],
               fill=255, width=max(1, s // 12))


def _cloud(d, s):
    d.ellipse([s * 0.05, s * 0.4, s * 0.45, s * 0.8], fill=255)
    d.ellipse([s * 0.25, s * 0.2, s * 0.7, s * 0.7], fill=255)
    d.ellipse([s * 0.55, s * 0.35, s * 0.95, s * 0.8], fill=255)
    d.rectangle([s * 0.25, s * 0.55, s * 0.75, s * 0.8], fill=255)


def _umbrella(d, s):
    d.pieslice([s * 0.03, s * 0.08, s * 0.97, s * 0.9], 180, 360, fill=255)
    d.rectangle([s * 0.46, s * 0.48, s * 0.54, s * 0.88], fill=255)
    d.arc([s * 0.3, s * 0.72, s * 0.54, s * 0.96], 0, 180, fill=255, width=max(1, s // 14))


def _cup(d, s):
    d.rectangle([s * 0.12, s * 0.2, s * 0.7, s * 0.9], fill=255)
    d.ellipse([s * 0.55, s * 0.32, s * 0.95, s * 0.72], fill=255)
    d.ellipse([s * 0.65, s * 0.42, s * 0.85, s * 0.62], fill=0)


def _fish(d, s):
    d.ellipse([s * 0.05, s * 0.25, s * 0.7, s * 0.75], fill=255)
    d.polygon([(s * 0.62, s * 0.5), (s * 0.97, s * 0.2), (s * 0.97, s * 0.8)], fill=255)
    d.ellipse([s * 0.17, s * 0.4, s * 0.27, s * 0.5], fill=0)


def _mushroom(d, s):
    d.pieslice([s * 0.03, s * 0.1, s * 0.97, s * 0.95], 180, 360, fill=255)
    d.rectangle([s * 0.36, s * 0.5, s * 0.64, s * 0.95], fill=255)


def _lollipop(d, s):
    d.ellipse([s * 0.15, s * 0.02, s * 0.85, s * 0.62], fill=255)
    d.rectangle([s * 0.46, s * 0.6, s * 0.54, s * 0.98], fill=255)


def _bowtie(d, s):
    d.polygon([(s * 0.03, s * 0.15), (s * 0.5, s * 0.5), (s * 0.03, s * 0.85)], fill=255)
    d.polygon([(s * 0.97, s * 0.15), (s * 0.5, s * 0.5), (s * 0.97, s * 0.85)], fill=255)
    d.ellipse([s * 0.38, s * 0.38, s * 0.62, s * 0.62], fill=255)


def _hourglass(d, s):
    d.polygon([(s * 0.15, s * 0.05), (s * 0.85, s * 0.05), (s * 0.5, s * 0.5)], fill=255)
    d.polygon([(s * 0.15, s * 0.95), (s * 0.85, s * 0.95), (s * 0.5, s * 0.5)], fill=255)


def _bolt(d, s):
    d.polygon([(s * 0.55, s * 0.02), (s * 0.15, s * 0.55), (s * 0.45, s * 0.55),
               (s * 0.35, s * 0.98), (s * 0.85, s * 0.4), (s * 0.55, s * 0.4)], fill=255)


def _envelope(d, s):
    d.rectangle([s * 0.04, s * 0.2, s * 0.96, s * 0.8], fill=255)
    w = max(1, s // 12)
    d.line([(s * 0.04, s * 0.2), (s * 0.5, s * 0.55), (s * 0.96, s * 0.2)], fill=0, width=w)


def _flag(d, s):
    d.rectangle([s * 0.1, s * 0.03, s * 0.18, s * 0.97], fill=255)
    d.polygon([(s * 0.18, s * 0.05), (s * 0.95, s * 0.28), (s * 0.18, s * 0.52)], fill=255)


def _key(d, s):
    d.ellipse([s * 0.03, s * 0.3, s * 0.43, s * 0.7], fill=255)
    d.ellipse([s * 0.13, s * 0.4, s * 0.33, s * 0.6], fill=0)
    d.rectangle([s * 0.4, s * 0.45, s * 0.97, s * 0.55], fill=255)
    d.rectangle([s * 0.75, s * 0.55, s * 0.82, s * 0.72], fill=255)
    d.rectangle([s * 0.88, s * 0.55, s * 0.95, s * 0.68], fill=255)


DRAWERS = {
    "circle": lambda d, s: d.ellipse([s * 0.03, s * 0.03, s * 0.97, s * 0.97], fill=255),
    "square": lambda d, s: d.rectangle([s * 0.08, s * 0.08, s * 0.92, s * 0.92], fill=255),
    "triangle": lambda d, s: d.polygon(_poly(3, s, r=0.52), fill=255),
    "star": _star,
    "heart": _heart,
    "diamond": lambda d, s: d.polygon(_poly(4, s, r=0.49), fill=255),
    "cross": lambda d, s: (d.rectangle([s * 0.36, s * 0.04, s * 0.64, s * 0.96], fill=255),
                           d.rectangle([s * 0.04, s * 0.36, s * 0.96, s * 0.64], fill=255)),
    "ring": lambda d, s: d.ellipse([s * 0.04, s * 0.04, s * 0.96, s * 0.96], outline=255,
                                   width=max(1, int(s * 0.18))),
    "hexagon": lambda d, s: d.polygon(_poly(6, s, rot=0.0), fill=255),
    "pentagon": lambda d, s: d.polygon(_poly(5, s), fill=255),
    "crescent": _crescent,
    "arrow": _arrow,
    "oval": lambda d, s: d.ellipse([s * 0.03, s * 0.22, s * 0.97, s * 0.78], fill=255),
    "bar": lambda d, s: d.rectangle([s * 0.03, s * 0.33, s * 0.97, s * 0.67], fill=255),
    "trapezoid": lambda d, s: d.polygon([(s * 0.28, s * 0.2), (s * 0.72, s * 0.2),
                                         (s * 0.97, s * 0.8), (s * 0.03, s * 0.8)], fill=255),
    "octagon": lambda d, s: d.polygon(_poly(8, s, rot=math.pi / 8), fill=255),
    "house": _house, "tree": _tree, "flower": _flower, "sun": _sun, "cloud": _cloud,
    "umbrella": _umbrella, "cup": _cup, "fish": _fish, "mushroom": _mushroom,
    "lollipop": _lollipop, "bowtie": _bowtie, "hourglass": _hourglass,
    "lightning bolt": _bolt, "envelope": _envelope, "flag": _flag, "key": _key,
}
