"""A training process dies with the process that started it (Linux parent-death signal).

A SIGKILL of ``selbench`` alone (not its process group) cannot be caught, so the parent
cannot stop its trainer; instead the trainer asks the kernel (``prctl(PR_SET_PDEATHSIG)``)
to send it SIGTERM when its parent exits. ``launch`` sets it in the child before ``exec``
(it survives ``exec``); ``entry`` sets it again in each training process, which covers the
ranks that ``torchrun`` starts. open_clip's dataloader workers already exit when their
trainer does (torch's worker watchdog). The kernel sends the signal when the *thread*
that started the child exits; ``launch.run`` waits for the child in that thread, so the
thread outlives it. On systems without ``prctl`` this does nothing.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGTERM) -> bool:
    """Have the kernel send ``sig`` to this process when its parent exits; return True if set.

    ``parent_pid``: the parent expected; if it has already gone (we were reparented before
    the call), ``sig`` is sent at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True


def child_preexec(parent_pid: int):
    """A ``subprocess.Popen(preexec_fn=...)`` that makes the child die with ``parent_pid``."""
    def preexec() -> None:
        die_with_parent(parent_pid)

    return preexec
