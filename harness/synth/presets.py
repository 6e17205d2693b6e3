"""Presets of the embedded benchmark: YAML under ``harness/conf/synth/<name>.yaml``, read with omegaconf."""
from __future__ import annotations

from omegaconf import OmegaConf

from harness.config import conf_dir
from harness.errors import SelbenchError
from harness.synth.shifts import shift_levels

DEFECT_KINDS = ("mismatched", "uninformative", "generic", "duplicate", "corrupted",
                "off_domain", "text_in_image")
ALL_KINDS = ("clean", *DEFECT_KINDS)
DOMAINS = ("object", "digit", "text")


def preset_names() -> list[str]:
    """Names of the available presets (``harness/conf/synth/*.yaml``)."""
    return sorted(p.stem for p in (conf_dir() / "synth").glob("*.yaml"))


def load_preset(name: str) -> dict:
    """Read and check preset ``name``; return it as a plain dict."""
    path = conf_dir() / "synth" / f"{name}.yaml"
    if not path.exists():
        raise SelbenchError(f"unknown pool preset {name!r} (have: {', '.join(preset_names())})")
    cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    check_preset(cfg, str(path))
    return cfg


def check_preset(cfg: dict, where: str) -> None:
    """Raise ``SelbenchError`` naming ``where`` when the preset's rates or sizes are invalid."""
    defects = cfg.get("defects", {})
    unknown = set(defects) - set(DEFECT_KINDS)
    if unknown:
        raise SelbenchError(f"{where}: unknown defect kind(s) {sorted(unknown)} (known: {DEFECT_KINDS})")
    if any(float(v) < 0 for v in defects.values()) or sum(map(float, defects.values())) >= 1:
        raise SelbenchError(f"{where}: defect rates must be >= 0 and sum to less than 1")
    domains = cfg.get("domains", {})
    if set(domains) != set(DOMAINS) or abs(sum(domains.values()) - 1) > 1e-6:
        raise SelbenchError(f"{where}: domains must give shares of {DOMAINS} summing to 1")
    try:
        shift_levels(cfg.get("shifts"))
    except SelbenchError as exc:
        raise SelbenchError(f"{where}: {exc}") from None
    for key in ("pool_size", "shard_size", "duplicate_sources"):
        if int(cfg.get(key, 0)) <= 0:
            raise SelbenchError(f"{where}: {key} must be a positive integer")
