"""Procedural object scenes: attribute sampling and 32 x 32 RGB rendering.

A scene is a dict of integer attributes: ``concept``, ``color``, ``texture``, ``size``,
``count`` (1-4), ``position`` (-1 when several objects are scattered), ``background``.
``render_scene(scene, rng, style)`` draws it; ``style`` selects the evaluation shifts
(``"sketch"``, ``"unusual"``); corruption is applied afterwards by ``harness.synth.corrupt``.
"""
from __future__ import annotations

import numpy as np

from harness.synth.shapes import concept_mask, outline_mask
from harness.synth.vocab import (BACKGROUNDS, COLORS, CONCEPTS, POSITIONS, SIZES)

SIDE = 32
SCENE_KEYS = ("concept", "color", "texture", "size", "count", "position", "background")
_COLOR_RGB = np.array([v[0] for v in COLORS.values()], dtype=np.float32)
_BG_RGB = np.array([v[0] for v in BACKGROUNDS.values()], dtype=np.float32)
_SIZE_FRAC = np.array([v[0] for v in SIZES.values()], dtype=np.float32)
_POS_XY = np.array([v[0] for v in POSITIONS.values()], dtype=np.float32)
_QUADRANTS = np.array([(0.27, 0.27), (0.73, 0.27), (0.27, 0.73), (0.73, 0.73)], np.float32)
_yy, _xx = np.mgrid[0:64, 0:64]
_TEXTURE_PATTERNS = {
    1: ((_yy // 3) % 2).astype(np.float32),                                  # striped
    2: (((_yy % 5) - 2) ** 2 + ((_xx % 5) - 2) ** 2 <= 2).astype(np.float32),  # dotted
    3: (((_yy // 3) + (_xx // 3)) % 2).astype(np.float32),                     # checkered
}


def sample_scenes(n: int, rng: np.random.Generator, concept_p: np.ndarray | None = None,
                  count_p=(0.7, 0.1, 0.1, 0.1)) -> dict[str, np.ndarray]:
    """Draw ``n`` scenes: concepts by ``concept_p`` (uniform if None), other attributes uniform."""
    k = len(CONCEPTS)
    scenes = {
        "concept": rng.choice(k, size=n, p=concept_p),
        "color": rng.integers(0, len(COLORS), size=n),
        "texture": rng.integers(0, len(_TEXTURE_PATTERNS) + 1, size=n),
        "size": rng.integers(0, len(SIZES), size=n),
        "count": rng.choice(4, size=n, p=np.asarray(count_p) / np.sum(count_p)) + 1,
        "position": rng.integers(0, len(POSITIONS), size=n),
        "background": rng.integers(0, len(BACKGROUNDS), size=n),
    }
    multi = scenes["count"] > 1
    scenes["position"][multi] = -1
    scenes["size"][multi] = 0
    # a single object in a corner must be small enough to sit in that corner
    corner = (~multi) & (scenes["position"] < 4)
    scenes["size"][corner] = np.minimum(scenes["size"][corner], 1)
    return scenes


def background_rgb(scene: dict[str, int]) -> np.ndarray:
    """The plain background colour (float32 RGB) of ``scene``."""
    return _BG_RGB[scene["background"]]


def scene_at(scenes: dict[str, np.ndarray], i: int) -> dict[str, int]:
    """The ``i``-th scene of a batch as a dict of ints."""
    return {k: int(scenes[k][i]) for k in SCENE_KEYS}


def render_scene(scene: dict[str, int], rng: np.random.Generator, style: str = "normal",
                 background: np.ndarray | None = None, shift=None) -> np.ndarray:
    """Render one scene to a uint8 (32, 32, 3) image.

    ``style``: ``"normal"``; ``"sketch"`` (dark outlines on paper, pencil shading
    ``shift.shade``, edge band ``shift.band`` pixels; default: no shading, 1 pixel);
    ``"unusual"`` (given ``background`` image, object scale drawn from ``shift.scales``;
    default: the extreme 0.22 or 0.9). ``shift`` is a ``harness.synth.shifts`` setting.
    """
    if background is not None:
        canvas = background.astype(np.float32).copy()
    elif style == "sketch":
        canvas = np.full((SIDE, SIDE, 3), 242.0, np.float32)
    else:
        canvas = np.empty((SIDE, SIDE, 3), np.float32)
        canvas[:] = _BG_RGB[scene["background"]]
    canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * 4.0
    rgb = np.clip(_COLOR_RGB[scene["color"]] + rng.standard_normal(3, dtype=np.float32) * 10, 0, 255)
    scales = shift.scales if style == "unusual" and shift is not None else (0.22, 0.9)
    for cx, cy, px in _placements(scene, rng, style, scales):
        if style == "sketch":
            band, shade = (shift.band, shift.shade) if shift is not None else (1, 0.0)
            alpha = outline_mask(scene["concept"], px, band)
            fill = np.broadcast_to(np.float32(rng.uniform(20, 70)), (px, px, 3))
            if shade > 0:
                alpha = np.maximum(alpha, concept_mask(scene["concept"], px) * np.float32(shade))
        else:
            alpha = concept_mask(scene["concept"], px)
            fill = _texture(scene["texture"], rgb, px, rng)
        _paste(canvas, alpha, fill, cx, cy)
    np.clip(canvas, 0, 255, out=canvas)
    return np.rint(canvas).astype(np.uint8)


def _placements(scene, rng, style, scales=(0.22, 0.9)):
    count = scene["count"]
    if count == 1:
        frac = _SIZE_FRAC[scene["size"]]
        if style == "unusual":
            frac = rng.choice(list(scales))
        px = max(5, int(round(SIDE * frac * rng.uniform(0.9, 1.1))))
        xy = _POS_XY[scene["position"]] if scene["position"] >= 0 else np.array([0.5, 0.5])
        jitter = rng.uniform(-1.5, 1.5, 2)
        return [(xy[0] * SIDE + jitter[0], xy[1] * SIDE + jitter[1], px)]
    cells = rng.choice(4, size=count, replace=False)
    out = []
    for c in cells:
        px = int(rng.integers(9, 12))
        jitter = rng.uniform(-1.5, 1.5, 2)
        out.append((_QUADRANTS[c, 0] * SIDE + jitter[0], _QUADRANTS[c, 1] * SIDE + jitter[1], px))
    return out


def _texture(texture: int, rgb: np.ndarray, px: int, rng) -> np.ndarray:
    if texture == 0:
        return np.broadcast_to(rgb, (px, px, 3))
    fill = rgb
    other = rgb * 0.35 + 255 * 0.65 if rgb.mean() < 150 else rgb * 0.3
    oy, ox = rng.integers(0, 6, 2)
    pat = _TEXTURE_PATTERNS[texture][oy:oy + px, ox:ox + px, None]
    return fill * (1 - pat) + other * pat


def _paste(canvas, alpha, fill, cx, cy) -> None:
    px = alpha.shape[0]
    x0, y0 = int(round(cx - px / 2)), int(round(cy - px / 2))
    x0 = min(max(x0, 0), SIDE - px) if px <= SIDE else 0
    y0 = min(max(y0, 0), SIDE - px) if px <= SIDE else 0
    px_c = min(px, SIDE)
    a = alpha[:px_c, :px_c, None]
    region = canvas[y0:y0 + px_c, x0:x0 + px_c]
    region[:] = region * (1 - a) + fill[:px_c, :px_c] * a
