"""``selbench train pool=DIR subset=FILE.npy scale=tiny out=DIR [seed=0] [...]``."""
from __future__ import annotations

import json

from harness.config import to_plain
from harness.errors import SelbenchError


def main(cfg, words) -> int:
    """Train one subset at one scale (see ``harness/conf/train.yaml``); print a summary; return 0."""
    if words:
        raise SelbenchError(f"selbench train takes no words, got {' '.join(words)!r}")
    c = to_plain(cfg)
    missing = [k for k in ("pool", "subset", "out") if not c.get(k)]
    if missing:
        raise SelbenchError(f"selbench train needs {', '.join(f'{k}=...' for k in missing)}")
    from harness.config import integer
    from harness.train.scales import check_scale
    from harness.train.trainer import train

    seed = integer(c["seed"], "seed")
    for key, least in (("workers", 0), ("threads", 1), ("nproc_per_node", 1), ("reshard_workers", 1)):
        if c.get(key) is not None:
            c[key] = integer(c[key], key, least)
    run_opts = {k: c[k] for k in ("launcher", "nproc_per_node", "device", "threads", "progress",
                                  "reshard_workers", "executor") if c.get(k) is not None}
    if (c.get("ray") or {}).get("address"):
        run_opts["ray_address"] = c["ray"]["address"]
    scale_opts = scale_overrides(check_scale(c["scale"]))
    scale_opts.update({k: c[k] for k in ("precision", "workers") if c.get(k) is not None})
    result = train(c["pool"], c["subset"], c["scale"]["name"], c["out"], seed=seed,
                   **run_opts, **scale_opts)
    summary = {k: result.get(k) for k in ("scale", "model", "samples_seen", "seed", "wall_time_s",
                                          "samples_per_s", "final_loss", "checkpoint")}
    print(json.dumps({"out": c["out"], **summary}))
    return 0


def scale_overrides(composed: dict) -> dict:
    """The keys of the composed ``scale`` node that differ from its YAML (``scale.KEY=V``)."""
    from harness.train.scales import load_scale

    base = load_scale(composed["name"])
    return {k: v for k, v in composed.items() if base.get(k) != v}
