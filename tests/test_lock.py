"""harness.lock.output_lock: one process per output file, and nothing left beside a finished one."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.lock import output_lock
from harness.select.base import Budget
from harness.select.engine import run_selection

HOLD = ("import sys, time\nfrom harness.lock import output_lock\n"
        "with output_lock(sys.argv[1]):\n print('held', flush=True); time.sleep(60)")


@pytest.fixture
def held_output(tmp_path):
    """``tmp_path/out/s.npy`` whose output lock another process holds; yields (path, its pid)."""
    out = tmp_path / "out" / "s.npy"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield out, holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_second_writer_of_an_output_is_refused(held_output):
    out, pid = held_output
    with pytest.raises(SelbenchError, match=rf"s\.npy is in use by another selbench process \(pid {pid}\)"):
        with output_lock(out):
            pass


def test_select_refuses_an_output_another_select_writes(held_output, random_pool):
    """The second select stops with the holder's pid before writing anything beside the output."""
    out, pid = held_output
    before = sorted(p.name for p in out.parent.iterdir())
    with pytest.raises(SelbenchError, match=rf"in use by another selbench process \(pid {pid}\)"):
        run_selection(random_pool, "clip_score", {}, Budget(count=10), 0, out, progress=False)
    assert sorted(p.name for p in out.parent.iterdir()) == before == [".s.npy.lock"]


def test_lock_file_is_gone_after_the_block_and_a_killed_holders_file_is_reused(tmp_path, random_pool):
    out = tmp_path / "deep" / "er" / "s.npy"
    with output_lock(out):
        assert (out.parent / ".s.npy.lock").is_file()
    assert list(out.parent.iterdir()) == []
    (out.parent / ".s.npy.lock").write_text("12345\n")  # a SIGKILLed holder's file: no flock on it
    manifest = run_selection(random_pool, "clip_score", {}, Budget(count=10), 0, out, progress=False)
    assert manifest["selected"] == 10 and len(np.load(out, allow_pickle=False)) == 10
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.json", "s.npy"]
