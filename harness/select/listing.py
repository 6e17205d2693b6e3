"""What ``selbench ls strategies`` shows: every registered strategy with its parameters."""
from __future__ import annotations

import dataclasses

from harness.select.base import STRATEGIES


def strategy_rows() -> list[dict]:
    """One dict per registered strategy: ``name``, ``version``, ``shape``, ``distributed`` (yes:
    its work runs as per-shard tasks on any executor; no: one process), ``params``
    {name: default}, ``origin`` (the distribution and ``module:Class`` it comes from), ``doc``."""
    from harness.select.engine import jsonable

    rows = []
    for name, cls in STRATEGIES.items():
        params = {}
        if dataclasses.is_dataclass(getattr(cls, "Params", None)):
            params = {f.name: _default(f) for f in dataclasses.fields(cls.Params)}
        rows.append({"name": name, "version": getattr(cls, "version", "") or "?",
                     "shape": getattr(cls, "shape", "") or "?",
                     "distributed": getattr(cls, "distributed_label", None)
                     or ("yes" if getattr(cls, "distributed", False) else "no"),
                     "params": jsonable(params),
                     "origin": STRATEGIES.origin(name),
                     "doc": cls.doc() if hasattr(cls, "doc") else ""})
    return rows


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return "(required)"
