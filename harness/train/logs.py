"""Reading open_clip_train's text log (``out.log``): progress, loss curve, final loss."""
from __future__ import annotations

import re
from pathlib import Path

# e.g. "Train Epoch: 0 [ 2560/10240 (25%)] ... LR: 0.000500 Logit Scale: 14.2 Contrastive_loss: 4.1 (4.3) Loss: 4.1 (4.3)"
_LINE = re.compile(r"Train Epoch: (\d+) \[\s*(\d+)/(\d+) \(\d+%\)\].*?"
                   r"LR: ([0-9.eE+-]+).*? Loss: ([0-9.eE+-]+|nan|inf) \(([0-9.eE+-]+|nan|inf)\)")


def parse_line(line: str) -> dict | None:
    """Parse one ``Train Epoch`` line into epoch, samples done/per epoch, lr, loss; else None."""
    m = _LINE.search(line)
    if not m:
        return None
    epoch, done, total, lr, loss, avg = m.groups()
    return {"epoch": int(epoch), "samples": int(done), "samples_per_epoch": int(total),
            "lr": float(lr), "loss": float(loss), "loss_avg": float(avg)}


def loss_curve(log_path: Path) -> list[dict]:
    """All parsed ``Train Epoch`` lines of a log, in order (empty when the log is absent)."""
    if not Path(log_path).is_file():
        return []
    with open(log_path, errors="replace") as f:
        return [row for row in map(parse_line, f) if row is not None]


def final_loss(curve: list[dict]) -> float | None:
    """The loss of the last logged step of the last epoch (None without log lines)."""
    return curve[-1]["loss"] if curve else None
