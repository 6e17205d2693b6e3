"""Atomic file output: write to a temporary name beside the target, rename when complete."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file (or directory) is removed and ``target`` is left
    untouched. ``suffix`` keeps an extension that some writers insist on (e.g. ``.npy``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            tmp_path.unlink(missing_ok=True)
        raise


def check_out_dir(path: str | os.PathLike) -> Path:
    """Check that ``path`` is, or can be created as, a writable folder; return it.

    Creates nothing. Raises ``SelbenchError`` (one line) when ``path`` is a file, lies under
    a file, or its nearest existing folder is not writable.
    """
    from harness.errors import SelbenchError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SelbenchError(f"out={path} exists and is not a directory")
    probe = Path(os.path.abspath(path))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise SelbenchError(f"out={path}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SelbenchError(f"out={path}: {probe} is not writable")
    return path


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json_atomic(target: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``target`` atomically."""
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_versions(names=("selbench", "numpy", "torch", "open_clip_torch", "clip-benchmark",
                            "pyarrow", "pandas", "webdataset", "faiss-cpu", "pyahocorasick")) -> dict:
    """Return ``{distribution: version}`` for the installed distributions among ``names``."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
