"""Start open_clip_train in child process(es) and follow its log with a progress bar.

``local`` runs ``python -m harness.train.entry``; ``torchrun`` runs it under
``torch.distributed.run --nproc_per_node N`` (one node); ``srun`` runs one task per
Slurm task of the current allocation (``tools/slurm_train_example.sh``). See
``harness.train.entry`` for why training runs in a child process.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.errors import SelbenchError
from harness.io import write_json_atomic
from harness.train.lifetime import child_preexec
from harness.train.logs import parse_line

LAUNCHERS = ("local", "torchrun", "srun")


def world_size(launcher: str, nproc_per_node: int, device: str) -> int:
    """Number of training processes the launcher will start."""
    if launcher not in LAUNCHERS:
        raise SelbenchError(f"unknown launcher {launcher!r} (use {', '.join(LAUNCHERS)})")
    if launcher == "local":
        return 1
    if device == "cpu":
        raise SelbenchError(f"launcher={launcher} needs GPUs: open_clip_train's multi-process "
                            "training (DistributedDataParallel with device_ids) does not run on a CPU")
    if launcher == "torchrun":
        if int(nproc_per_node) < 1:
            raise SelbenchError(f"nproc_per_node must be >= 1, got {nproc_per_node}")
        return int(nproc_per_node)
    if "SLURM_NTASKS" not in os.environ:
        raise SelbenchError("launcher=srun needs a Slurm allocation (SLURM_NTASKS is not set)")
    return int(os.environ["SLURM_NTASKS"])


def command(launcher: str, nproc_per_node: int, threads: int | None, argv: list[str],
            spec_file: Path, gpu_precision: str = "amp") -> list[str]:
    """The command line that trains with ``argv`` (open_clip_train arguments).

    The arguments travel in ``spec_file`` (written here), not on the launcher's command line.
    """
    write_json_atomic(spec_file, {"threads": threads, "argv": argv, "gpu_precision": gpu_precision})
    entry = ["-m", "harness.train.entry", "--spec", str(Path(spec_file).resolve())]
    if launcher == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", str(nproc_per_node), *entry]
    if launcher == "srun":
        return ["srun", "--kill-on-bad-exit=1", sys.executable, *entry]
    return [sys.executable, *entry]


def run(cmd: list[str], console_log: Path, openclip_log: Path, total_steps: int,
        steps_per_epoch: int, progress: bool = True, pass_fds: tuple[int, ...] = ()) -> float:
    """Run ``cmd`` (output to ``console_log``), showing progress; return its wall time in s.

    Raises ``SelbenchError`` with the last log line when it fails; on KeyboardInterrupt the
    child is stopped (its checkpoints stay, so a rerun resumes) and the interrupt re-raised.
    The child gets SIGTERM when this process dies, however it dies (``lifetime``), and
    inherits ``pass_fds`` (the run folder's lock, so that it holds the lock while it lives)
    and runs offline (``child_env``).
    """
    bar = _bar(total_steps, progress)
    start = time.perf_counter()
    # the child stays in our process group, so a group kill (Ctrl-C, Slurm) reaches both;
    # SIGTERM to this process alone stops the child too (see _stop)
    previous = _on_sigterm()
    with open(console_log, "ab") as sink:
        child = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, pass_fds=pass_fds,
                                 preexec_fn=child_preexec(os.getpid()), env=child_env())
        try:
            pos = 0
            while child.poll() is None:
                time.sleep(0.5)
                pos = _follow(openclip_log, pos, bar, steps_per_epoch)
        except BaseException:
            _stop(child)
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if bar is not None:
                bar.close()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SelbenchError(f"training failed (exit {child.returncode}): {_last_line(console_log)} "
                            f"(full log: {console_log})")
    return wall


def child_env() -> dict:
    """This process's environment with ``HF_HUB_OFFLINE=1``: the trainer never reaches the
    Hugging Face Hub (models are built from local configs; see ``harness.models``)."""
    return {**os.environ, "HF_HUB_OFFLINE": "1"}


def _bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="train", unit="step", leave=False)


def _follow(log: Path, pos: int, bar, steps_per_epoch: int) -> int:
    if bar is None or not log.is_file():
        return pos
    with open(log, "rb") as f:
        f.seek(pos)
        for raw in iter(f.readline, b""):
            if not raw.endswith(b"\n"):
                break  # a line still being written: read it next time
            pos += len(raw)
            row = parse_line(raw.decode("utf-8", "replace"))
            if row:
                done = row["epoch"] * steps_per_epoch + round(
                    steps_per_epoch * row["samples"] / max(1, row["samples_per_epoch"]))
                bar.n = min(bar.total, done)
                bar.set_postfix(loss=f"{row['loss']:.3f}")
                bar.refresh()
    return pos


def _on_sigterm():
    """Turn SIGTERM into SystemExit while training (main thread only); return the old handler."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, handler)


def _stop(child: subprocess.Popen) -> None:
    """Terminate the child (torchrun forwards it to its workers); kill it after 30 s."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _last_line(path: Path) -> str:
    """The last error line of a log (a Python exception or an argparse error), else its last line."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    errors = [ln for ln in lines if re.search(r"\w+(Error|Exception)\b|error:", ln)]
    pick = errors[-1] if errors else (lines[-1] if lines else "(empty log)")
    return pick[:300]
