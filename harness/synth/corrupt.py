"""Image corruptions: the ``objects_corrupt`` shift and the pool's corrupted-image defect."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def shift_corruption(image: np.ndarray, rng: np.random.Generator, setting=None) -> np.ndarray:
    """One of gaussian noise, blur or JPEG compression at ``setting`` (a
    ``harness.synth.shifts.CorruptShift``; default: severity 5, std 28, radius 0.9-1.3,
    quality 4-8)."""
    noise, (blur_lo, blur_hi), (q_lo, q_hi) = ((setting.noise_std, setting.blur, setting.jpeg_quality)
                                               if setting is not None else (28, (0.9, 1.3), (4, 9)))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        out = image.astype(np.float32) + rng.normal(0, noise, image.shape)
        return np.clip(out, 0, 255).round().astype(np.uint8)
    if kind == 1:
        return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(rng.uniform(blur_lo, blur_hi))))
    return jpeg_roundtrip(image, int(rng.integers(q_lo, q_hi)))


def destroy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A web-broken image: blank, pure noise, or the image buried in heavy noise and blur."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        colour = rng.integers(0, 256, 3)
        out = np.broadcast_to(colour, image.shape).astype(np.float32) + rng.normal(0, 2, image.shape)
    elif kind == 1:
        out = rng.integers(0, 256, image.shape).astype(np.float32)
    else:
        blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(3.0)), np.float32)
        out = blurred * 0.3 + rng.integers(0, 256, image.shape) * 0.7
    return np.clip(out, 0, 255).round().astype(np.uint8)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` after JPEG encoding at ``quality`` and decoding."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
