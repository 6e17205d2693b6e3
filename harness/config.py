"""Configuration: Hydra's compose API over the YAML under ``harness/conf/``.

Every command composes ``harness/conf/<command>.yaml`` with the user's ``key=value`` overrides.
Two conveniences are applied before Hydra sees the overrides:

- ``strategy=NAME`` means ``strategy.name=NAME`` and ``strategy.PARAM=V`` may add keys
  (a strategy's parameters are type-checked by its own dataclass, not by the YAML);
- ``budget=natural`` means ``budget.natural=true`` (the method's own natural size).

A config group's choice (``scale=small``, ``experiment=NAME``) is a file name of that group:
a value with ``/`` or ``..`` (``scale=../run``, another YAML) is refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf

from harness.errors import SelbenchError

CONF_DIR = Path(__file__).resolve().parent / "conf"


def conf_dir() -> Path:
    """The directory that holds selbench's YAML configuration."""
    if not CONF_DIR.is_dir():
        raise SelbenchError(f"configuration directory {CONF_DIR} not found "
                            "(a broken selbench installation: reinstall it)")
    return CONF_DIR


def rewrite_overrides(overrides: Sequence[str]) -> list[str]:
    """Apply selbench's shorthand (see module docstring) to command-line overrides."""
    out = []
    for item in overrides:
        if "=" not in item:
            raise SelbenchError(f"argument {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        bare = key.lstrip("+~")
        if (conf_dir() / bare).is_dir() and ("/" in value or ".." in value):
            raise SelbenchError(f"{bare}={value}: a {bare} is the name of a file in "
                                f"harness/conf/{bare}/ (no '/' or '..')")
        if bare == "strategy" and not key.startswith(("+", "~")):
            out.append(f"strategy.name={value}")
        elif bare.startswith("strategy.") and not key.startswith(("+", "~")) and bare != "strategy.name":
            out.append(f"++{bare}={value}")
        elif bare == "budget" and value.strip().lower() in ("none", "null", "natural"):
            out.append("budget.natural=true")
        else:
            out.append(item)
    return out


def compose(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``harness/conf/<config_name>.yaml`` with ``overrides``; errors become one line."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = rewrite_overrides(overrides)
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        OmegaConf.resolve(cfg)  # an unresolvable ${...} is bad input, reported here
    except (HydraException, OmegaConfBaseException) as exc:
        raise SelbenchError(f"bad configuration: {_one_line(exc)}") from exc
    return cfg


def integer(value, key: str, minimum: int | None = None) -> int:
    """``value`` (a config value, e.g. ``seed=abc``) as an int >= ``minimum``; else a ``SelbenchError``."""
    if isinstance(value, bool) or value is None:
        raise SelbenchError(f"{key}={value} is not an integer")
    try:
        number = int(value) if not isinstance(value, float) else None
    except (TypeError, ValueError):
        number = None
    if number is None and isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None:
        raise SelbenchError(f"{key}={value} is not an integer")
    if minimum is not None and number < minimum:
        raise SelbenchError(f"{key}={value} must be >= {minimum}")
    return number


def to_plain(cfg) -> dict:
    """Return a resolved, plain-``dict`` copy of a config node."""
    return OmegaConf.to_container(cfg, resolve=True)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
