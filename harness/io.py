"""Atomic file output: write to a temporary name beside the target, rename when complete.

Temporary names carry their owner, ``<pid>-<host hash>`` (``owner_tag``), so that a process
killed with SIGKILL, which cannot clean up, leaves names a rerun recognises as its own:
``remove_stale`` deletes those of a pid that is no longer alive on this host (or any, for a
caller that holds the folder's lock, ``harness.lock``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterator

TMP_END = r"\.tmp(\.[A-Za-z0-9]+)?"  # what follows the random part of an atomic_path name


def owner_tag() -> str:
    """``<pid>-<6 hex of the host name's sha256>``: who owns a temporary name (see ``remove_stale``)."""
    return f"{os.getpid()}-{_host_hash()}"


def _host_hash() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _owner_gone(pid: int, host: str) -> bool:
    """True when ``pid`` of this host is no longer alive (a pid of another host: never)."""
    if host != _host_hash():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by another user
        return False
    return False


def remove_stale(folder: str | os.PathLike, prefix: str, end: str = TMP_END,
                 held: bool = False) -> list[Path]:
    """Delete the temporaries in ``folder`` named ``<prefix><owner tag>.<random><end>`` (``end``
    a regular expression) whose owner is dead, or all of them when ``held`` (the caller holds
    the folder's lock, so no live process writes them); return what was removed.

    Only names of that exact pattern are touched; a link is removed, never followed.
    """
    folder = Path(folder)
    pattern = re.compile(re.escape(prefix) + r"(\d+)-([0-9a-f]{6})\.[A-Za-z0-9_]+" + end + r"\Z")
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = pattern.match(path.name)
        if match is None or not (held or _owner_gone(int(match.group(1)), match.group(2))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(path)
    return removed


def owned_temp_dir(folder: str | os.PathLike, prefix: str) -> Path:
    """A new folder ``<prefix><owner tag>.<random>`` in ``folder``, made after removing the ones
    of that prefix whose owner is dead (``remove_stale``): a staging or scratch folder that a
    killed process's successor cleans up."""
    remove_stale(folder, prefix, end="")
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{owner_tag()}.", dir=folder))


def remove_stale_temps(target: str | os.PathLike, held: bool = False) -> list[Path]:
    """Delete what ``atomic_path(target)`` left beside ``target`` when its writer was killed
    (``remove_stale``: owner dead, or any when ``held``); return the removed paths."""
    target = Path(target)
    return remove_stale(target.parent, f".{target.name}.", TMP_END, held)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file (or directory) is removed and ``target`` is left
    untouched. ``suffix`` keeps an extension that some writers insist on (e.g. ``.npy``).
    The name is ``.<target name>.<owner tag>.<random>.tmp<suffix>`` (``remove_stale_temps``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{owner_tag()}.", suffix=".tmp" + suffix,
                               dir=target.parent)
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
