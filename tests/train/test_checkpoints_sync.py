"""epoch_latest.pt (open_clip's --save-most-recent) follows the newest whole epoch checkpoint."""
from __future__ import annotations

import torch

from harness.train.checkpoints import MOST_RECENT, checkpoint_dir, sync_most_recent


def test_latest_points_at_the_newest_epoch(tmp_path):
    d = checkpoint_dir(tmp_path)
    assert sync_most_recent(tmp_path) is None
    d.mkdir(parents=True)
    for epoch in (1, 2):
        torch.save({"epoch": epoch}, d / f"epoch_{epoch}.pt")
    torch.save({"epoch": 1}, d / MOST_RECENT)  # a kill after epoch_2.pt, before the latest copy
    (d / "tmp.pt").write_bytes(b"half")
    assert sync_most_recent(tmp_path) == d / "epoch_2.pt"
    assert torch.load(d / MOST_RECENT, weights_only=True) == {"epoch": 2}
    assert not (d / "tmp.pt").exists()
