"""``selbench pool build`` and ``selbench pool validate``."""
from __future__ import annotations

from harness.errors import SelbenchError


def main(cfg, words) -> int:
    """Dispatch ``pool build`` / ``pool validate``; return the exit status."""
    if words == ["validate"]:
        return validate(cfg)
    if words == ["build"]:
        return build(cfg)
    raise SelbenchError("usage: selbench pool build out=DIR [preset=tiny|test] [seed=0] "
                        "| selbench pool validate pool=DIR")


def validate(cfg) -> int:
    """Print the pool summary, or one line per problem; return 0 if valid, else 1."""
    from harness.pool.validate import validate_pool

    if not cfg.get("pool"):
        raise SelbenchError("pool validate needs pool=DIR")
    report = validate_pool(cfg.pool)
    if report.ok:
        for line in report.summary_lines():
            print(line)
        print("pool is valid")
        return 0
    for line in report.problems:
        print(line)
    print(f"{len(report.problems)} problem(s) found")
    return 1


def build(cfg) -> int:
    """Build the embedded benchmark pool under ``cfg.out``; return 0."""
    from harness.synth.build import build_pool

    if not cfg.get("out"):
        raise SelbenchError("pool build needs out=DIR")
    info = build_pool(cfg.out, preset=cfg.preset, seed=int(cfg.seed))
    print(f"built pool {info['name']} with {info['size']} samples at {cfg.out}")
    return 0
