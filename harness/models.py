"""selbench's own open_clip model configs (``harness/model_configs/*.json``), registered
with open_clip so that ``open_clip.create_model_and_transforms(name)`` finds them offline."""
from __future__ import annotations

from pathlib import Path

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
_registered = False


def register_model_configs() -> list[str]:
    """Register every config in ``harness/model_configs`` with open_clip; return their names."""
    global _registered
    import open_clip

    if not _registered:
        open_clip.add_model_config(MODEL_CONFIG_DIR)
        _registered = True
    return sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json"))
