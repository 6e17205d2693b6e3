"""Severity levels of the tiny suite's ImageNet dist. shift analogs.

Each shift task (``objects_sketch``, ``objects_corrupt``, ``objects_background``) draws the
``objects`` test scenes in another way; how far from the training distribution it moves them
is a severity level from 1 (mild) to 5, in the manner of ImageNet-C's five levels. Level 5 is
exactly what generator version 2 drew (every shift at its harshest: the teacher kept 0.05-0.41
of its ``objects`` accuracy on them). The preset's ``shifts`` section chooses a level per task;
``tools/calibrate_shifts.py`` measures the teacher at every level (the record is in
``harness/conf/synth/tiny.yaml``).
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.errors import SelbenchError


@dataclass(frozen=True)
class SketchShift:
    """Outline drawings: the edge band's width in pixels and the pencil shading inside (alpha)."""

    band: int
    shade: float


@dataclass(frozen=True)
class CorruptShift:
    """One of gaussian noise (std), gaussian blur (radius range) or JPEG (quality range [lo, hi))."""

    noise_std: float
    blur: tuple[float, float]
    jpeg_quality: tuple[int, int]


@dataclass(frozen=True)
class BackgroundShift:
    """A photo backdrop laid at ``opacity`` over the scene's plain background colour (1: the photo
    as it is), and an object scale drawn from ``scales`` (fractions of the image side)."""

    scales: tuple[float, float]
    opacity: float


LEVELS: dict[str, dict[int, object]] = {
    "objects_sketch": {
        1: SketchShift(band=3, shade=0.6), 2: SketchShift(band=3, shade=0.4),
        3: SketchShift(band=2, shade=0.3), 4: SketchShift(band=2, shade=0.0),
        5: SketchShift(band=1, shade=0.0)},
    "objects_corrupt": {
        1: CorruptShift(8, (0.3, 0.5), (30, 41)), 2: CorruptShift(12, (0.45, 0.65), (20, 29)),
        3: CorruptShift(16, (0.6, 0.8), (13, 19)), 4: CorruptShift(22, (0.75, 1.05), (8, 13)),
        5: CorruptShift(28, (0.9, 1.3), (4, 9))},
    "objects_background": {
        1: BackgroundShift((0.5, 0.72), 0.2), 2: BackgroundShift((0.5, 0.72), 0.35),
        3: BackgroundShift((0.35, 0.8), 0.5), 4: BackgroundShift((0.28, 0.85), 0.7),
        5: BackgroundShift((0.22, 0.9), 1.0)},
}
HARSHEST = 5


def shift_setting(task: str, level: int):
    """The rendering parameters of shift ``task`` at severity ``level`` (1-5)."""
    if task not in LEVELS:
        raise SelbenchError(f"{task!r} is not a shift task (shift tasks: {', '.join(LEVELS)})")
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS[task]:
        raise SelbenchError(f"shifts.{task}: severity level must be an integer 1-{HARSHEST}, got {level!r}")
    return LEVELS[task][level]


def shift_levels(cfg_shifts: dict | None) -> dict[str, int]:
    """The level of every shift task from a preset's ``shifts`` section (absent: level 5 each)."""
    cfg_shifts = dict(cfg_shifts or {})
    unknown = sorted(set(cfg_shifts) - set(LEVELS))
    if unknown:
        raise SelbenchError(f"shifts: unknown task(s) {', '.join(unknown)} (shift tasks: {', '.join(LEVELS)})")
    levels = {task: cfg_shifts.get(task, HARSHEST) for task in LEVELS}
    for task, level in levels.items():
        shift_setting(task, level)
    return levels
