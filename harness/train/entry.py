"""Child-process entry for training: ``python -m harness.train.entry --spec FILE`` (or
``[--threads N] <open_clip args>``). ``FILE`` is JSON ``{"threads": N, "argv": [...]}``;
the trainer uses it because launchers parse the command line too (torchrun's argparse
rejects open_clip's ``--logs`` as an ambiguous abbreviation of its ``--logs-specs``).

Training runs open_clip_train's own ``main(argv)`` in a child process (or one per rank
under ``torchrun``), not in the caller's process, because ``main`` owns process-global
state: it adds logging handlers to the root logger on every call, initialises
``torch.distributed``, reseeds the global ``random``/numpy/torch RNGs, sets torch backend
flags and may ``exit()``. A child process also makes the run killable and resumable as a
unit (``--resume latest`` picks up its checkpoints), and is what ``torchrun``/Slurm launch.

The process dies with its parent (``harness.train.lifetime``). This module registers
selbench's model configs with open_clip (they must be registered in the process that
builds the model), fixes the torch thread count (on a CPU by default the
cores not taken by dataloader workers; see ``cpu_threads``), makes the resampled
data pipeline deterministic by ``--seed`` (``harness.train.seeding``), on a CPU makes
open_clip's AdamW use torch's fused kernel (``harness.train.optimizer``), then calls
``open_clip_train.main.main`` with the remaining arguments.
"""
from __future__ import annotations

import argparse
import os
import sys

RUNTIME_FILE = "runtime.json"  # in open_clip's run directory: resolved device and torch threads
_PARENT = os.getppid()          # read at import, before a slow start could outlive the parent


def main(argv: list[str] | None = None) -> int:
    """Run open_clip_train with selbench's setup; return its exit status (0 on success)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--threads", type=int, default=None)
    pre.add_argument("--spec", default=None)
    ours, rest = pre.parse_known_args(argv)
    if ours.spec:
        import json

        with open(ours.spec) as f:
            spec = json.load(f)
        ours.threads, rest = spec.get("threads"), list(spec["argv"]) + rest
        rest = resolve_hardware(rest, spec.get("gpu_precision", "amp"))
    import torch

    cpu = _flag(rest, "--device") == "cpu"
    threads = ours.threads or (cpu_threads(int(_flag(rest, "--workers") or 0)) if cpu else None)
    if threads:
        torch.set_num_threads(threads)
    from harness.models import register_model_configs
    from harness.train import seeding

    register_model_configs()
    seeding.install()
    if cpu:
        from harness.train.optimizer import use_fused_adamw

        use_fused_adamw()
    _record_runtime(rest, torch.get_num_threads(), fused_adamw=cpu)
    from open_clip_train.main import main as open_clip_main

    result = open_clip_main(rest)
    return 1 if result == -1 else 0


def cpu_threads(workers: int) -> int:
    """torch threads for CPU training: the cores left to this process by ``workers`` loaders.

    On 2 cores with one dataloader worker, 1 torch thread trained the tiny scale in 53-56 s
    against 70 s with 2 threads (3 busy threads on 2 cores: the compute threads wait for each
    other at every parallel region while the worker holds a core).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - max(0, workers))


def _record_runtime(argv: list[str], threads: int, fused_adamw: bool) -> None:
    """Write ``<logs>/<name>/runtime.json`` (rank 0): the resolved device and torch threads."""
    if int(os.environ.get("RANK", "0")) != 0 or not _flag(argv, "--logs"):
        return
    import json

    from harness.io import write_json_atomic

    run_dir = os.path.join(_flag(argv, "--logs"), _flag(argv, "--name") or "")
    os.makedirs(run_dir, exist_ok=True)
    from harness.schemas import stamp

    path = os.path.join(run_dir, RUNTIME_FILE)
    write_json_atomic(path, stamp("runtime.json", {"device": _flag(argv, "--device"),
                                                   "threads": threads, "fused_adamw": fused_adamw},
                                  path))


def _flag(argv: list[str], name: str) -> str | None:
    """The value following ``name`` in ``argv``, or None when it is absent."""
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


def resolve_hardware(argv: list[str], gpu_precision: str) -> list[str]:
    """Replace ``--device auto`` / ``--precision auto`` by this machine's choice.

    auto device: cuda when torch sees a GPU, else cpu; auto precision: ``gpu_precision``
    (the scale's amp / amp_bf16) on a GPU, fp32 on a CPU (amp on a CPU is ~15x slower).
    Resolved here, in the child, so that the parent never imports torch.
    """
    import torch

    argv = list(argv)
    device = argv[argv.index("--device") + 1] if "--device" in argv else "auto"
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if "--device" in argv:
            argv[argv.index("--device") + 1] = device
        else:
            argv += ["--device", device]
    if "--precision" in argv and argv[argv.index("--precision") + 1] == "auto":
        argv[argv.index("--precision") + 1] = gpu_precision if device.startswith("cuda") else "fp32"
    if device == "cpu" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("selbench: error: multi-process training needs GPUs: open_clip_train's "
                         "DistributedDataParallel (device_ids) does not run on a CPU")
    return argv


if __name__ == "__main__":
    from harness.train.lifetime import die_with_parent

    die_with_parent(_PARENT)  # also a rank that torchrun started dies with it (see lifetime)
    sys.exit(main())
