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
# the type of every key's value (train_macs may be null: not known for a scale of selbench's own)
KINDS = {"name": str, "description": str, "model": str, "lr_scheduler": str, "precision": str,
         "resampled": bool, "grad_checkpointing": bool, "pool_size": int, "samples_seen": int,
         "global_batch_size": int, "warmup": int, "epochs": int, "workers": int, "accum_freq": int,
         "lr": float, "beta1": float, "beta2": float, "eps": float, "wd": float, "train_macs": float}


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
    if scale["name"] != name:
        raise SelbenchError(f"{path}: name {scale['name']!r} does not match the file's name {name!r}")
    return {**OPTIONAL_KEYS, **scale}


def check_scale(scale) -> dict:
    """Return the composed ``scale`` node (a plain dict) when it has the scale schema, else raise.

    The schema: every key of ``SCALE_KEYS`` (and only those and ``OPTIONAL_KEYS``), each of its
    type in ``KINDS``, a ``name`` that is a file of ``harness/conf/scale/``, and values that
    can train (``check_values``). Another YAML composed as a scale is refused here.
    """
    names = scale_names()
    if not isinstance(scale, dict):
        raise SelbenchError(f"scale is {type(scale).__name__}, not a scale of harness/conf/scale/ "
                            f"({', '.join(names)})")
    name = scale.get("name")
    if not isinstance(name, str) or name not in names:
        raise SelbenchError(f"scale name {name!r} is not a scale of harness/conf/scale/ "
                            f"({', '.join(names)}): that configuration is not a scale")
    missing = [k for k in SCALE_KEYS if k not in scale]
    unknown = sorted(set(scale) - set(SCALE_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        what = "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                     f"unknown {', '.join(unknown)}" if unknown else "") if x)
        raise SelbenchError(f"scale {name}: not a scale ({what}; see harness/conf/scale/{name}.yaml)")
    for key, kind in KINDS.items():
        value = scale.get(key, OPTIONAL_KEYS.get(key))
        if key == "train_macs" and value is None:
            continue
        ok = (isinstance(value, (int, float)) if kind is float else isinstance(value, kind))
        if ok and kind is not bool and isinstance(value, bool):
            ok = False  # true/false where a number is expected
        if not ok:
            words = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}
            raise SelbenchError(f"scale {name}: {key}={value!r} must be {words[kind]}")
    check_values(scale)
    return scale


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
