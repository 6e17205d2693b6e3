"""``selbench pool build`` (the embedded benchmark pool) and ``selbench pool validate``.

The command lives with the generator because building is the generator's job; validating a
pool is the pool package's (``harness.pool.commands.validate``), which the generator may
use, while the pool package never imports the generator.
"""
from __future__ import annotations

from harness.errors import SelbenchError
from harness.pool.commands import validate


def main(cfg, words) -> int:
    """Dispatch ``pool build`` / ``pool validate``; return the exit status."""
    if words == ["validate"]:
        return validate(cfg)
    if words == ["build"]:
        return build(cfg)
    raise SelbenchError("usage: selbench pool build out=DIR [preset=tiny|test] [seed=0] "
                        "| selbench pool validate pool=DIR")


def build(cfg) -> int:
    """Build the embedded benchmark pool under ``cfg.out``; return 0."""
    from harness.synth.build import build_pool

    if not cfg.get("out"):
        raise SelbenchError("pool build needs out=DIR")
    info = build_pool(cfg.out, preset=cfg.preset, seed=int(cfg.seed))
    print(f"built pool {info['name']} with {info['size']} samples at {cfg.out}")
    return 0
