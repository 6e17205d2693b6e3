"""GPU check: DataComp small's training settings on one CUDA machine, measured in a few minutes.

    .venv/bin/python tools/gpu_check.py                          # on a CUDA machine (~6 min on an H200)
    .venv/bin/python tools/gpu_check.py --device cpu --steps 2 --model selbench-minimal --batch 16
                                                                 # a CPU dry run of the logic

What it does, in one process tree and one run:

1. builds (or reuses, ``--work``) the embedded pool's ``test`` preset (~2k samples with tar
   shards; images are upsampled to the model's input size by open_clip's transform) and
   selects all of it (``no_filter``);
2. trains ``--model`` (default ViT-B-32) through ``selbench train`` with the ``small``
   scale's settings and DataComp's flags (lr, warmup, beta2, wd, amp, grad checkpointing,
   ``--dataset-resampled``), except: one epoch of ``--steps`` optimizer steps of
   ``--batch`` samples (default: small's global batch 4096 on this one process) read by
   ``--workers`` dataloader processes (each holds prefetched fp32 batches of 4096 x 3 x 224
   x 224, about 2.5 GB each: 14 workers were killed for memory on a 128 GiB machine, 6 ran);
3. while it trains, samples the device's memory in use (``nvidia-smi``, the whole device)
   and reads open_clip's per-step throughput from its log;
4. measures the model's training FLOPs per sample (``torch.utils.flop_counter`` on one
   forward pass x 3 for forward + backward; grad checkpointing's recomputation is not
   counted, as MFU conventionally does not) and this device's dense bf16 (or fp32 on a CPU)
   matmul peak in the same run, and prints model FLOP utilisation = achieved / measured peak;
5. evaluates the checkpoint on the tiny suite (the pool's evaluation sets);
6. prints what DataComp small (12.8M samples) and medium (128M) would take on one such
   device at the measured rate, and on N devices if scaling were linear (an assumption,
   labelled as such).

Nothing is asserted; all figures are printed with what they were measured on.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"Batch \(t\): ([0-9.]+), ([0-9.]+)/s")


def build_inputs(work: Path) -> tuple[Path, Path]:
    """The test-preset embedded pool under ``work`` and a no_filter subset of all of it."""
    from harness.select.base import Budget
    from harness.select.engine import run_selection
    from harness.synth.build import build_pool

    pool = work / "pool"
    build_pool(pool, preset="test", seed=0, progress=False)
    subset = work / "subset" / "all.npy"
    run_selection(pool, "no_filter", {}, Budget(natural=True), 0, subset, progress=False)
    return pool, subset


class MemorySampler:
    """Peak device memory in use (MiB, ``nvidia-smi``), sampled every ``period`` seconds."""

    def __init__(self, period: float = 1.0):
        self.period, self.peak, self._stop = period, None, threading.Event()
        self.available = shutil.which("nvidia-smi") is not None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=10).stdout.split()
                used = max(int(x) for x in out) if out else None
                if used is not None:
                    self.peak = used if self.peak is None else max(self.peak, used)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            self._stop.wait(self.period)

    def __enter__(self):
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.available:
            self._thread.join()


def step_rates(log: Path) -> list[float]:
    """Samples/s of every logged step (open_clip's ``Batch (t): ..., N/s``), in order."""
    if not log.is_file():
        return []
    return [float(m.group(2)) for m in map(STEP.search, log.read_text(errors="replace").splitlines()) if m]


def flops_per_sample(model_name: str, device: str) -> float:
    """Training FLOPs per sample: 3 x the forward FLOPs of one image-text pair."""
    import open_clip
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from harness.models import register_model_configs

    register_model_configs()
    model = open_clip.create_model(model_name, device=device).eval()
    size = model.visual.image_size
    size = size if isinstance(size, int) else size[0]
    image = torch.zeros(1, 3, size, size, device=device)
    text = open_clip.get_tokenizer(model_name)(["a photo of a dog"]).to(device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(image, text)
    return 3.0 * counter.get_total_flops()


def matmul_peak(device: str, n: int = 8192, reps: int = 10) -> tuple[float, str]:
    """Best achieved FLOP/s of ``n x n`` matmuls (bf16 on CUDA, fp32 on CPU) and the dtype."""
    import torch

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    n = n if device.startswith("cuda") else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(reps):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        torch.mm(a, b)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t))
    return best, str(dtype).replace("torch.", "")


def hms(seconds: float) -> str:
    """``seconds`` as ``Hh MMm``."""
    h, m = divmod(int(round(seconds / 60)), 60)
    return f"{h}h {m:02d}m"


def main(argv=None) -> None:
    """Parse arguments, run the check, print the report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--batch", type=int, default=None, help="global batch (default: small's, 4096)")
    ap.add_argument("--workers", type=int, default=6,
                    help="dataloader workers (each prefetches ~2.5 GB batches at batch 4096)")
    ap.add_argument("--gpus-for-projection", type=int, default=8)
    ap.add_argument("--work", type=Path, default=Path("runs/gpu_check"))
    ap.add_argument("--keep", action="store_true", help="keep the previous training run")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from harness.evaluate.aggregate import aggregate
    from harness.evaluate.runner import evaluate
    from harness.train.scales import load_scale
    from harness.train.trainer import train

    t_start = time.perf_counter()
    small = load_scale("small")
    batch = args.batch or int(small["global_batch_size"])
    cuda = args.device.startswith("cuda")
    if cuda:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device visible to torch: run with --device cpu for a dry run")
    pool, subset = build_inputs(args.work)
    run_dir = args.work / f"train-{args.model}-{args.device.replace(':', '')}"
    if run_dir.exists() and not args.keep:
        shutil.rmtree(run_dir)
    overrides = {"model": args.model, "samples_seen": args.steps * batch, "epochs": 1,
                 "global_batch_size": batch, "workers": args.workers,
                 "precision": small["precision"] if cuda else "fp32"}
    if not cuda:
        overrides["grad_checkpointing"] = False
    t_train = time.perf_counter()
    with MemorySampler() as mem:
        result = train(pool, subset, "small", run_dir, seed=0, device=args.device,
                       progress=False, **overrides)
    train_wall = time.perf_counter() - t_train
    rates = step_rates(run_dir / "open_clip" / "out.log")
    steady = rates[len(rates) // 5:] or rates  # drop the first fifth (warm-up, compilation)
    rate = statistics.median(steady) if steady else result["samples_per_s"]
    fps = flops_per_sample(args.model, args.device)
    peak, dtype = matmul_peak(args.device)
    scores = evaluate(run_dir / "checkpoint.pt", "tiny", pool / json.loads((pool / "pool.json").read_text())["evalsets"],
                      run_dir / "eval", batch_size=256 if cuda else 64, model=args.model,
                      device=args.device)
    agg = aggregate({ln["key"]: ln["metrics"]["main_metric"] for ln in scores}, "tiny")

    print(f"\n== gpu_check: {args.model} at DataComp small's settings on {args.device} ==")
    if cuda:
        import torch

        print(f"device: {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} visible)")
    print(f"steps {args.steps} x global batch {batch} = {args.steps * batch:,} samples; "
          f"precision {overrides['precision']}; grad checkpointing {overrides.get('grad_checkpointing', True)}")
    print(f"training wall time (incl. start-up and resharding): {train_wall:.1f} s; trainer's own "
          f"samples/s over its segments: {result['samples_per_s']}")
    print(f"steady samples/s (median of logged steps after the first fifth, {len(steady)} logs): {rate:,.0f}")
    print(f"peak device memory in use: {mem.peak:,} MiB (nvidia-smi)" if mem.peak is not None
          else "peak device memory: not measured (no nvidia-smi)")
    print(f"model FLOPs per training sample: {fps / 1e9:.2f} GFLOP (3 x forward)")
    print(f"measured {dtype} matmul peak: {peak / 1e12:.3g} TFLOP/s; achieved {rate * fps / 1e12:.3g} "
          f"TFLOP/s; MFU {rate * fps / peak:.1%}")
    print(f"final loss {result['final_loss']}; tiny suite Average {agg['Average']} "
          f"({'complete' if agg['complete'] else 'incomplete'})")
    for name in ("small", "medium"):
        seen = int(load_scale(name)["samples_seen"])
        one = seen / rate
        print(f"DataComp {name} ({seen / 1e6:.1f}M samples): {hms(one)} on one such device at this rate; "
              f"{hms(one / args.gpus_for_projection)} on {args.gpus_for_projection} if scaling were linear (assumed)")
    print(f"gpu_check wall time: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
