"""A finished run's model as an open_clip ``local-dir:`` folder that stock tools load.

``export_local_dir(checkpoint, model_name, target)`` writes ``target/`` with
``open_clip_model.safetensors`` (the weights) and ``open_clip_config.json`` (``model_cfg``:
the architecture, and ``preprocess_cfg``, written by open_clip's own ``save_config_for_hf``),
so that in any Python process::

    open_clip.create_model_and_transforms("local-dir:RUN/export")
    open_clip.get_tokenizer("local-dir:RUN/export")

build the same model without selbench's model configs being registered (``selbench-tiny``
exists only as selbench's JSON otherwise).

Files the model config's ``text_cfg.tokenizer_kwargs`` names (e.g. a ``bpe_path`` for a
custom BPE vocabulary, resolved against ``harness/model_configs/`` when relative) are copied
into the folder, and the config points at the copy by its ABSOLUTE path: open_clip's
``SimpleTokenizer`` opens ``bpe_path`` as given, i.e. relative to the process's working
directory, so a relative path would only work from inside the folder. A moved export
folder therefore needs that one path edited (the file itself travels with it).

The folder is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from harness.errors import SelbenchError

CONFIG_NAME = "open_clip_config.json"
WEIGHTS_NAME = "open_clip_model.safetensors"


def referenced_files(model_cfg: dict, base: Path) -> dict[str, Path]:
    """``{tokenizer kwarg: existing file}`` for the kwargs of ``text_cfg.tokenizer_kwargs``
    that name a file (absolute, or relative to ``base``)."""
    out = {}
    for key, value in (model_cfg.get("text_cfg", {}).get("tokenizer_kwargs") or {}).items():
        if isinstance(value, str) and value:
            path = Path(value) if Path(value).is_absolute() else base / value
            if path.is_file():
                out[key] = path
            elif key.endswith("_path"):
                raise SelbenchError(f"model config: text_cfg.tokenizer_kwargs.{key}={value} not found")
    return out


def export_local_dir(checkpoint: Path, model_name: str, target: Path) -> Path:
    """Write the ``local-dir:`` export of ``checkpoint`` (architecture ``model_name``) to ``target``."""
    import open_clip
    from open_clip.push_to_hf_hub import save_config_for_hf
    from safetensors.torch import save_file

    from harness.models import MODEL_CONFIG_DIR, register_model_configs

    register_model_configs()
    model_cfg = open_clip.get_model_config(model_name)
    if model_cfg is None:
        raise SelbenchError(f"unknown model architecture {model_name!r}: cannot export {checkpoint}")
    model_cfg = copy.deepcopy(model_cfg)
    files = referenced_files(model_cfg, MODEL_CONFIG_DIR)
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        kwargs = model_cfg.get("text_cfg", {}).get("tokenizer_kwargs", {})
        for key, src in files.items():
            shutil.copyfile(src, tmp / src.name)
            kwargs[key] = str((target / src.name).resolve())
        model = open_clip.create_model(model_name, device="cpu")
        open_clip.load_checkpoint(model, str(checkpoint), strict=True, weights_only=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / WEIGHTS_NAME))
        save_config_for_hf(model, tmp / CONFIG_NAME, model_config=model_cfg)
        json.loads((tmp / CONFIG_NAME).read_text())  # written whole
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
