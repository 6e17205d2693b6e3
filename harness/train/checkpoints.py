"""open_clip's per-epoch checkpoints under ``<out>/open_clip/checkpoints``: scan, clean, publish."""
from __future__ import annotations

import logging
import os
import re
import shutil
import zipfile
from pathlib import Path

from harness.train.flags import LOG_NAME

log = logging.getLogger(__name__)
_EPOCH = re.compile(r"^epoch_(\d+)\.pt$")


def checkpoint_dir(out: Path) -> Path:
    """Where open_clip_train writes ``epoch_N.pt`` for a run in ``out``."""
    return Path(out) / LOG_NAME / "checkpoints"


def epoch_checkpoints(out: Path) -> dict[int, Path]:
    """``{epoch: path}`` of the ``epoch_N.pt`` files present."""
    d = checkpoint_dir(out)
    found = {}
    if d.is_dir():
        for p in d.iterdir():
            m = _EPOCH.match(p.name)
            if m:
                found[int(m.group(1))] = p
    return found


def is_complete(path: Path) -> bool:
    """True when a torch.save zip archive is whole (its central directory is readable)."""
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def drop_incomplete(out: Path) -> list[Path]:
    """Delete checkpoints a kill cut short (torch.save is not atomic); return the removed."""
    removed = []
    d = checkpoint_dir(out)
    for p in [*epoch_checkpoints(out).values(), *(d.glob("*.pt") if d.is_dir() else [])]:
        if p.exists() and not is_complete(p):
            log.warning("removing incomplete checkpoint %s", p)
            p.unlink()
            removed.append(p)
    return removed


MOST_RECENT = "epoch_latest.pt"  # open_clip's --save-most-recent file (DataComp passes the flag)


def sync_most_recent(out: Path) -> Path | None:
    """Point ``epoch_latest.pt`` at the newest whole ``epoch_N.pt``; return it (None without one).

    With ``--save-most-recent`` open_clip's ``--resume latest`` reads only ``epoch_latest.pt``,
    which it writes after ``epoch_N.pt``: a run killed between the two would restart from an
    older epoch or from scratch. Called before every launch, after ``drop_incomplete``.
    """
    found = epoch_checkpoints(out)
    if not found:
        return None
    newest = found[max(found)]
    (checkpoint_dir(out) / "tmp.pt").unlink(missing_ok=True)  # open_clip's half-written latest
    publish(newest, checkpoint_dir(out) / MOST_RECENT)
    return newest


def latest_epoch(out: Path) -> int:
    """The highest epoch with a checkpoint (0 when none): where ``--resume latest`` starts."""
    return max(epoch_checkpoints(out), default=0)


def publish(src: Path, target: Path) -> None:
    """Make ``target`` the final checkpoint atomically (hard link when possible, else copy)."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, target)
