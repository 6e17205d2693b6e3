"""Training scales as data: ``harness/conf/scale/<name>.yaml`` (DataComp's four, and ``tiny``)."""
from __future__ import annotations

import difflib

from omegaconf import OmegaConf

from harness.config import conf_dir
from harness.errors import SelbenchError

# keys every scale file must define (see harness/conf/scale/small.yaml for their meaning)
SCALE_KEYS = ("name", "description", "model", "pool_size", "samples_seen", "global_batch_size",
              "lr", "warmup", "beta1", "beta2", "eps", "wd", "epochs", "resampled",
              "lr_scheduler", "precision", "workers", "train_macs")
# optional keys and their DataComp values (train.py: --accum_freq 1, --grad-checkpointing always)
OPTIONAL_KEYS = {"accum_freq": 1, "grad_checkpointing": True}
ORDER = ("tiny", "small", "medium", "large", "xlarge")


def scale_names() -> list[str]:
    """Names of the scales under ``harness/conf/scale``, smallest first."""
    names = [p.stem for p in (conf_dir() / "scale").glob("*.yaml")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def load_scale(name: str) -> dict:
    """Return scale ``name`` as a plain dict; unknown names raise with a did-you-mean hint."""
    names = scale_names()
    if name not in names:
        close = difflib.get_close_matches(str(name), names, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise SelbenchError(f"unknown scale {name!r}{hint} (known: {', '.join(names)})")
    path = conf_dir() / "scale" / f"{name}.yaml"
    scale = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    missing = [k for k in SCALE_KEYS if k not in scale]
    if missing:
        raise SelbenchError(f"{path}: missing keys {', '.join(missing)}")
    return {**OPTIONAL_KEYS, **scale}


def apply_overrides(scale: dict, overrides: dict) -> dict:
    """Return ``scale`` with ``overrides`` (scale keys only) applied; unknown keys raise."""
    bad = sorted(set(overrides) - set(SCALE_KEYS) - set(OPTIONAL_KEYS) - {"name"})
    if bad:
        raise SelbenchError(f"unknown scale override(s) {', '.join(bad)} "
                            f"(scale keys: {', '.join([*SCALE_KEYS[2:], *OPTIONAL_KEYS])})")
    out = dict(scale)
    out.update(overrides)
    check_values(out)
    return out


def check_values(scale: dict) -> None:
    """Raise ``SelbenchError`` unless the scale's numbers can train (counts >= 1, finite rates)."""
    import math

    least = {"samples_seen": 1, "global_batch_size": 1, "epochs": 1, "warmup": 0, "workers": 0}
    for key, minimum in least.items():
        value = scale.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise SelbenchError(f"scale {scale.get('name')}: {key}={value!r} must be an integer >= {minimum}")
    for key in ("lr", "beta1", "beta2", "eps", "wd"):
        value = scale.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0:
            raise SelbenchError(f"scale {scale.get('name')}: {key}={value!r} must be a finite number >= 0")


def steps_per_epoch(scale: dict, workers: int = 1) -> int:
    """Optimizer steps per checkpoint epoch, rounded exactly as open_clip_train rounds them."""
    per_epoch = -(-int(scale["samples_seen"]) // int(scale["epochs"]))
    batches = -(-per_epoch // int(scale["global_batch_size"]))
    workers = max(1, int(workers))
    return -(-batches // workers) * workers


def samples_seen_exact(scale: dict, workers: int = 1) -> int:
    """Samples the trainer will actually draw: epochs x steps x global batch (>= samples_seen)."""
    return int(scale["epochs"]) * steps_per_epoch(scale, workers) * int(scale["global_batch_size"])


def scale_rows() -> list[dict]:
    """One row per scale for ``selbench ls scales``."""
    rows = []
    for name in scale_names():
        s = load_scale(name)
        rows.append({"scale": name, "model": s["model"], "samples_seen": s["samples_seen"],
                     "global_batch": s["global_batch_size"], "steps": s["epochs"] * steps_per_epoch(s),
                     "lr": s["lr"], "warmup": s["warmup"], "beta2": s["beta2"], "wd": s["wd"],
                     "precision": s["precision"], "train_macs": s["train_macs"]})
    return rows
