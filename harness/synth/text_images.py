"""Rendered words and short phrases (the Rendered-SST2-like domain) and text overlays."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from harness.synth.shapes import font

SIDE = 32


def render_text(text: str, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """``text`` (one or two words, one per line) in dark ink on light paper, 32 x 32 RGB."""
    paper = tuple(int(v) for v in rng.integers(205, 256, 3))
    ink = tuple(int(v) for v in rng.integers(0, 70, 3))
    img = Image.new("RGB", (SIDE, SIDE), paper)
    _draw_lines(ImageDraw.Draw(img), text, ink, size or int(rng.integers(9, 12)), rng)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 3.0, (SIDE, SIDE, 3))
    return np.clip(arr, 0, 255).round().astype(np.uint8)


def overlay_text(image: np.ndarray, text: str, rng: np.random.Generator) -> np.ndarray:
    """``image`` with ``text`` written over it in a contrasting colour (a caption shortcut)."""
    img = Image.fromarray(image)
    bright = image.mean() > 128
    ink = (0, 0, 0) if bright else (255, 255, 255)
    _draw_lines(ImageDraw.Draw(img), text, ink, int(rng.integers(8, 11)), rng)
    return np.asarray(img, dtype=np.uint8)


def _draw_lines(d: ImageDraw.ImageDraw, text: str, ink, size: int, rng) -> None:
    words = text.split()
    lines = words[:3] if len(words) > 1 else [text]
    f = font(size)
    heights = [d.textbbox((0, 0), ln, font=f) for ln in lines]
    total = sum(b[3] - b[1] for b in heights) + 2 * (len(lines) - 1)
    y = max(0, (SIDE - total) // 2 + int(rng.integers(-2, 3)))
    for ln, b in zip(lines, heights):
        w = b[2] - b[0]
        x = max(0, (SIDE - w) // 2 + int(rng.integers(-2, 3)))
        d.text((x - b[0], y - b[1]), ln, font=f, fill=ink)
        y += b[3] - b[1] + 2
