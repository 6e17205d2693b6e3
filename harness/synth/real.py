"""Real images shipped inside installed packages, brought to 32 x 32 RGB.

- scikit-learn's handwritten digits (``load_digits``, 1797 8x8 scans), partitioned by a
  fixed permutation into disjoint parts (pool, teacher, evaluation train, evaluation test);
- scikit-image's bundled photographs (only those in the wheel), as seeded random crops;
- scikit-image's face / non-face subset (``lfw_subset``: 100 faces then 100 non-faces).

The files are read straight from the installed packages' data directories (numpy and
PIL only), so drawing does not pay for importing scikit-learn or scikit-image.
"""
from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 32
# bundled photograph -> caption phrasings (all ship inside the scikit-image wheel)
PHOTOS: dict[str, tuple[str, ...]] = {
    "astronaut": ("an astronaut in a space suit", "portrait of an astronaut", "nasa crew photo"),
    "camera": ("a man with a film camera", "black and white photo of a cameraman"),
    "chelsea": ("a ginger cat", "cat looking at the camera", "pet cat portrait", "a tabby cat"),
    "coffee": ("a cup of coffee", "coffee on a saucer", "espresso cup from above"),
    "coins": ("old coins on a table", "a pile of coins", "coin collection"),
    "rocket": ("a rocket on the launch pad", "space launch", "rocket ready for lift-off"),
    "hubble_deep_field": ("deep space galaxies", "hubble telescope image", "distant galaxies"),
    "immunohistochemistry": ("stained tissue under a microscope", "microscopy slide"),
    "moon": ("surface of the moon", "lunar craters", "moon surface close-up"),
    "page": ("a scanned page of a book", "old printed text page"),
    "clock": ("a wall clock", "clock face", "analog clock"),
    "brick": ("a brick wall", "red brick texture", "bricks"),
    "grass": ("green grass texture", "lawn close-up", "grass field"),
    "gravel": ("gravel texture", "small stones on the ground", "pebbles"),
    "retina": ("retina scan", "fundus photograph of an eye"),
    "cell": ("cells under a microscope", "microscope image of a cell"),
    "color": ("a color wheel", "rainbow colour circle", "hue wheel"),
    "motorcycle_left": ("a motorcycle in a garage", "motorbike", "parked motorcycle"),
}
PHOTO_FILES = {"hubble_deep_field": "hubble_deep_field.jpg", "rocket": "rocket.jpg",
               "retina": "retina.jpg", "immunohistochemistry": "ihc.png", "clock": "clock_motion.png"}


def package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed")
    return Path(list(spec.submodule_search_locations)[0], *parts)


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (its bundled ``digits.csv.gz``): images (1797, 8, 8) float in
    [0, 1] and labels (1797,)."""
    with gzip.open(package_file("sklearn", "datasets", "data", "digits.csv.gz"), "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return (table[:, :64].reshape(-1, 8, 8) / 16.0).astype(np.float32), table[:, 64].astype(np.int64)


def digit_parts(fractions: dict[str, float]) -> dict[str, np.ndarray]:
    """Split digit indices into disjoint named parts by a fixed permutation (seed 1797)."""
    n = len(digits()[1])
    perm = np.random.default_rng(1797).permutation(n)
    out, start = {}, 0
    names = list(fractions)
    for i, name in enumerate(names):
        stop = n if i == len(names) - 1 else start + int(round(fractions[name] * n))
        out[name] = np.sort(perm[start:stop])
        start = stop
    return out


def render_digit(index: int, rng: np.random.Generator) -> np.ndarray:
    """Digit ``index`` scaled to 18-28 px, coloured ink on paper, at a random offset."""
    img = digits()[0][index]
    px = int(rng.integers(18, 29))
    big = np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((px, px), Image.BILINEAR),
                     dtype=np.float32)[..., None] / 255.0
    paper = rng.uniform(200, 255, 3).astype(np.float32)
    ink = rng.uniform(0, 90, 3).astype(np.float32)
    if rng.random() < 0.3:
        paper, ink = ink, paper
    canvas = np.broadcast_to(paper, (SIDE, SIDE, 3)).astype(np.float32).copy()
    y0, x0 = rng.integers(0, SIDE - px + 1, 2)
    region = canvas[y0:y0 + px, x0:x0 + px]
    region[:] = region * (1 - big) + ink * big
    canvas += rng.normal(0, 3.0, canvas.shape)
    return np.clip(canvas, 0, 255).round().astype(np.uint8)


@lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A photograph bundled in scikit-image's ``data`` directory, as uint8 RGB."""
    path = package_file("skimage", "data", PHOTO_FILES.get(name, f"{name}.png"))
    arr = np.asarray(Image.open(path).convert("RGB"))
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr[..., :3].astype(np.uint8))


def photo_crop(name: str, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (1/8 to 3/4 of the short side) of photo ``name`` at 32 x 32."""
    arr = photo(name)
    h, w = arr.shape[:2]
    side = int(rng.integers(max(16, min(h, w) // 8), int(min(h, w) * 0.75) + 1))
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(arr[y0:y0 + side, x0:x0 + side]).resize((SIDE, SIDE), Image.BILINEAR)
    return np.asarray(crop, dtype=np.uint8)


@lru_cache(maxsize=1)
def faces() -> np.ndarray:
    """scikit-image's ``lfw_subset``: (200, 25, 25) float; the first 100 are faces."""
    path = package_file("skimage", "data", "lfw_subset.npy")
    return np.asarray(np.load(path, allow_pickle=False), dtype=np.float32)


def render_face(index: int, rng: np.random.Generator) -> np.ndarray:
    """Face / non-face patch ``index`` at 32 x 32 RGB with a little brightness jitter."""
    img = faces()[index]
    big = np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((SIDE, SIDE), Image.BILINEAR),
                     dtype=np.float32)
    big = big * rng.uniform(0.85, 1.15) + rng.normal(0, 3.0, big.shape)
    return np.repeat(np.clip(big, 0, 255).round().astype(np.uint8)[..., None], 3, axis=2)
