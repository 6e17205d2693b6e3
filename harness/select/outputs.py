"""Where ``select`` may write: ``out`` (``.npy``) and its manifest ``out.json``.

Both are replaced only when they are absent or a previous selbench selection (a manifest
that names ``out`` and records a subset sha256: a stale ``out`` beside it is recomputed;
or ``out`` left by a kill between the two renames, its manifest still under the temporary
name); any other file at either name is the user's and
is overwritten only with ``overwrite=true``. The folder must exist or be creatable and be
writable. Checked before any work, so a refusal costs nothing and leaves nothing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from harness.errors import SelbenchError
from harness.io import sha256_file


def check_outputs(out: Path, overwrite: bool = False) -> None:
    """Raise ``SelbenchError`` unless ``out`` and ``out.with_suffix('.json')`` may be written."""
    out = Path(out)
    meta = out.with_suffix(".json")
    for path in (out, meta):
        if path.is_dir():
            raise SelbenchError(f"out={out}: {path} is a directory")
    folder = _existing_ancestor(out.parent)
    if not folder.is_dir():
        raise SelbenchError(f"out={out}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SelbenchError(f"out={out}: folder {folder} is not writable")
    if overwrite or not (out.exists() or meta.exists()):
        return
    if not _previous_selection(out, meta):
        taken = " and ".join(str(p) for p in (out, meta) if p.exists())
        raise SelbenchError(f"out={out}: {taken} exists and is not a selbench selection of "
                            "that name; give overwrite=true to replace it, or choose another out")


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (where a new folder would be created)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _previous_selection(out: Path, meta: Path) -> bool:
    """True when ``out``/``meta`` are selbench's: ``meta`` a manifest naming ``out`` (``out``
    may be stale), or, after a kill between the two renames of a write, ``out`` alone with
    the manifest still under its temporary name and recording ``out``'s sha256."""
    if meta.is_file():
        return _manifest_of(meta, out) is not None
    if not out.is_file():
        return False
    sha = sha256_file(out)
    return any((_manifest_of(tmp, out) or {}).get("subset_sha256") == sha
               for tmp in out.parent.glob(f".{meta.name}.*.tmp"))


def _manifest_of(path: Path, out: Path) -> dict | None:
    """The selection manifest in ``path`` if it is one naming ``out``, else None."""
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if (isinstance(manifest, dict) and manifest.get("subset") == out.name
            and isinstance(manifest.get("strategy"), str)
            and isinstance(manifest.get("subset_sha256"), str)):
        return manifest
    return None
