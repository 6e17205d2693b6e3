"""One selbench process per output folder: an advisory ``flock`` on ``<folder>/.selbench.lock``;
one per output file (``output_lock``): ``.<name>.lock`` beside it while the holder runs.

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
    _acquire(fd, folder)
    try:
        yield fd
    finally:
        os.close(fd)


def _acquire(fd: int, what: Path) -> None:
    """Take ``fd``'s exclusive lock without waiting and record this pid in it; else close
    ``fd`` and raise the one-line SelbenchError naming the holder's pid."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise SelbenchError(f"{what} is in use by another selbench process (pid {holder}); "
                            "wait for it to finish or choose another out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


@contextlib.contextmanager
def output_lock(target: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of the output file ``target`` (``.<name>.lock`` beside it) for the block:
    a second process writing the same output gets a one-line SelbenchError naming the holder.

    The lock file is removed when the block ends, so a finished output leaves nothing beside
    it; a process that opened the file just before its removal finds it replaced and retries.
    """
    target = Path(target)
    path = target.with_name(f".{target.name}.lock")
    while True:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SelbenchError(f"{target.parent}: output directory is not writable "
                                f"({exc.strerror or exc})") from exc
        _acquire(fd, target)
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # removed by the holder that just finished: lock the new file
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def remove_created_folder(folder: str | os.PathLike) -> None:
    """By the holder of ``folder``'s lock, which created it: delete the lock file and the folder
    when nothing else is in it (a command that failed before writing leaves no trace)."""
    (Path(folder) / LOCK_NAME).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        Path(folder).rmdir()
