"""``selbench pool validate`` (``pool build`` is the embedded generator's: ``harness.synth.commands``)."""
from __future__ import annotations

from harness.errors import SelbenchError


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
