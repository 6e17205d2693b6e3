"""The training child's CPU thread default."""
import os

from harness.train import entry


def test_cpu_threads_leave_a_core_per_dataloader_worker(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert entry.cpu_threads(1) == 1
    assert entry.cpu_threads(0) == 2
    assert entry.cpu_threads(4) == 1            # never fewer than one thread
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert entry.cpu_threads(2) == 14


def test_flag_reads_the_value_after_a_name():
    argv = ["--device", "cpu", "--workers", "1", "--logs"]
    assert entry._flag(argv, "--device") == "cpu" and entry._flag(argv, "--workers") == "1"
    assert entry._flag(argv, "--logs") is None and entry._flag(argv, "--name") is None
