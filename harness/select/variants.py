"""Named variants: a strategy name plus parameters, defined once in configuration and run
under their own name (``strategies=[normsim_p2, normsim_pinf]`` in a sweep).

A variant is a mapping ``{strategy: NAME, params: {...}, include: OTHER}`` read from
``harness/conf/variant/<name>.yaml`` or from the ``variants:`` map of a run's config (which
wins). ``include`` names another variant whose strategy and parameters this one starts
from, its own parameters laid over them (as an lm-evaluation-harness task YAML includes
another); includes may chain, a cycle is an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from harness.errors import SelbenchError

VARIANT_DIR = "variant"
_KEYS = {"strategy", "params", "include"}


@dataclass(frozen=True)
class Variant:
    """A resolved variant: the registered ``strategy`` and its ``params``."""

    name: str
    strategy: str
    params: dict = field(default_factory=dict)


def variant_names(inline: Mapping | None = None) -> list[str]:
    """Names of the shipped variants (``harness/conf/variant/*.yaml``) and the inline ones."""
    from harness.config import conf_dir

    found = {p.stem for p in (conf_dir() / VARIANT_DIR).glob("*.yaml")}
    return sorted(found | set(inline or {}))


def _definition(name: str, inline: Mapping | None) -> dict | None:
    from omegaconf import OmegaConf

    from harness.config import conf_dir

    if inline and name in inline:
        raw, where = inline[name], f"variants.{name}"
    else:
        path = conf_dir() / VARIANT_DIR / f"{name}.yaml"
        if not path.is_file():
            return None
        raw, where = OmegaConf.to_container(OmegaConf.load(path), resolve=True), str(path)
    if OmegaConf.is_config(raw):
        raw = OmegaConf.to_container(raw, resolve=True)
    if not isinstance(raw, Mapping):
        raise SelbenchError(f"{where}: a variant is a mapping with strategy, params, include")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise SelbenchError(f"{where}: unknown key(s) {', '.join(unknown)} (a variant has "
                            "strategy, params and include)")
    if not isinstance(raw.get("params") or {}, Mapping):
        raise SelbenchError(f"{where}: params must be a mapping")
    return dict(raw, where=where)


def resolve_variant(name: str, inline: Mapping | None = None) -> Variant | None:
    """The variant ``name`` with its includes applied, or None when no variant has that name."""
    chain: list[str] = []
    layers: list[dict] = []
    current = str(name)
    while True:
        if current in chain:
            raise SelbenchError(f"variant {name}: include cycle {' -> '.join(chain + [current])}")
        found = _definition(current, inline)
        if found is None:
            if not chain:
                return None
            raise SelbenchError(f"{layers[-1]['where']}: includes unknown variant {current!r} "
                                f"(known: {', '.join(variant_names(inline))})")
        chain.append(current)
        layers.append(found)
        if not found.get("include"):
            break
        current = str(found["include"])
    strategy = next((d["strategy"] for d in layers if d.get("strategy")), None)
    if not strategy:
        raise SelbenchError(f"{layers[0]['where']}: names no strategy (directly or through include)")
    params: dict = {}
    for layer in reversed(layers):
        params.update(layer.get("params") or {})
    return Variant(str(name), str(strategy), params)
