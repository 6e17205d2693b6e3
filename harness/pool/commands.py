"""``selbench pool validate`` (``pool build`` is the embedded generator's: ``harness.synth.commands``)."""
from __future__ import annotations

from harness.errors import SelbenchError


def validate(cfg) -> int:
    """Print the pool summary and return 0 when the pool is valid.

    Otherwise list every problem on stdout, one a line, and raise ``SelbenchError`` (one line
    on stderr, exit status 2) naming the first problem and the count.
    """
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
    n = len(report.problems)
    more = f"; {n} problems in all, listed on stdout" if n > 1 else ""
    raise SelbenchError(f"invalid pool: {report.problems[0]}{more}")
