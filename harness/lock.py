"""One selbench process per output folder: an advisory ``flock`` on ``<folder>/.selbench.lock``.

The lock is held on an open file description, so it is released whenever the holder exits,
however it exits (a SIGKILL included): a stale lock file never blocks a rerun. A child
process that is given the descriptor (``pass_fds``) holds the lock with its parent, so an
orphaned trainer still keeps a second one out of its folder.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from harness.errors import SelbenchError

LOCK_NAME = ".selbench.lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[int]:
    """Create ``folder`` if needed and hold its lock; yield the lock's file descriptor.

    Raises ``SelbenchError`` when another process holds the lock (naming its pid) or when
    the folder cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SelbenchError(f"{folder}: output directory is not writable "
                            f"({exc.strerror or exc})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise SelbenchError(f"{folder} is in use by another selbench process (pid {holder}); "
                            "wait for it to finish or choose another out") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)


def remove_lock_file(folder: str | os.PathLike) -> None:
    """Delete ``folder``'s lock file (only by the holder, just before it removes the folder)."""
    (Path(folder) / LOCK_NAME).unlink(missing_ok=True)
