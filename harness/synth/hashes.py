"""Pixel-content hashes, used to keep evaluation images out of the pool and teacher set."""
from __future__ import annotations

import hashlib

import numpy as np


def pixel_hash(image: np.ndarray) -> str:
    """sha256 of a uint8 image's shape and pixel bytes."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return hashlib.sha256(repr(image.shape).encode() + image.tobytes()).hexdigest()


def pixel_hashes(images: np.ndarray) -> list[str]:
    """``pixel_hash`` of each image of a (n, h, w, 3) batch."""
    return [pixel_hash(im) for im in images]


def colliding_rows(images: np.ndarray, forbidden: set[str]) -> np.ndarray:
    """Indices of rows of ``images`` whose pixel hash is in ``forbidden``."""
    return np.array([i for i, h in enumerate(pixel_hashes(images)) if h in forbidden], dtype=np.int64)


def nudge(image: np.ndarray, attempt: int) -> np.ndarray:
    """A copy of ``image`` with a 3x3 corner patch brightened by ``4 * attempt`` (mod 256)."""
    out = image.copy()
    patch = out[:3, :3].astype(np.int64) + 4 * attempt
    out[:3, :3] = (patch % 256).astype(np.uint8)
    return out
