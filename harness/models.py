"""selbench's own open_clip model configs (``harness/model_configs/*.json``), registered
with open_clip so that ``open_clip.create_model_and_transforms(name)`` finds them offline, and
the one check that a model name can be built without a download (``check_offline_model``)."""
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


def check_offline_model(name, key: str = "model") -> str:
    """Return ``name`` when open_clip builds it from local files alone; else raise ``SelbenchError``.

    ``name`` must be a model config open_clip knows (selbench's, registered here, or open_clip's
    own). Refused, before open_clip is asked anything: ``hf-hub:ORG/NAME`` and URLs (open_clip
    would download the config and weights), and configs whose text tower is a Hugging Face
    model (open_clip would download its weights and tokenizer). ``key`` names the option in
    the message (``scale.model``, ``model``).
    """
    from harness.errors import SelbenchError

    offline = ("selbench loads models from local files only (offline by default): name a model "
               "config from harness/model_configs/ or open_clip's own; a trained checkpoint is "
               "given as a local file (evaluate checkpoint=FILE)")
    if not isinstance(name, str) or not name.strip():
        raise SelbenchError(f"{key}={name!r} is not a model name; {offline}")
    if name.startswith("hf-hub:") or "://" in name:
        raise SelbenchError(f"{key}={name} would be downloaded; {offline}")
    import open_clip

    register_model_configs()
    if name not in open_clip.list_models():
        raise SelbenchError(f"unknown model architecture {key}={name!r}; {offline}")
    hf_text = (open_clip.get_model_config(name) or {}).get("text_cfg", {}).get("hf_model_name")
    if hf_text:
        raise SelbenchError(f"{key}={name}: its text tower is the Hugging Face model {hf_text}, "
                            f"which open_clip would download; {offline}")
    return name
