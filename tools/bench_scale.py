"""Selection at DataComp-small scale on one machine: local processes vs Ray, against the I/O floor.

    .venv/bin/python tools/bench_scale.py --pool /big/disk/pool1m --rows 1000000 --workers 2
    .venv/bin/python tools/bench_scale.py --pool /big/disk/pool12m --rows 12800000   # ~40 GB

Writes (once; reused when ``--pool`` already holds a pool of ``--rows`` rows) a simulated
DataComp-small metadata pool: ``--shard-rows`` rows a shard, parquet with DataComp's
metadata columns (uid, url, text, original_width, original_height, sha256,
clip_b32_similarity_score, clip_l14_similarity_score, face_bboxes) and npz with 768-d fp16
``l14_img``/``l14_txt`` (the b32 keys are not written: no method here reads them). Then,
for clip_score, normsim (p=2 and p=inf against ``--targets`` random targets), s_cliploss
(``--scl-batch``, ``--scl-k``) and metaclip (``--entries`` entries), each at
``budget.fraction=--fraction``, in one run it measures:

- the I/O floor: the executor reading every shard's inputs of that method (parquet columns
  and npz keys) with a no-op per shard, through the local executor with ``--workers``;
- the selection through ``executor=local`` (``--workers`` processes) and ``executor=ray``
  (a local Ray with ``--workers`` CPUs, started before the clock; its start-up is reported
  once), each in a fresh driver process;
- peak resident memory (``VmHWM``) of the driver (``rusage`` at its end; ``base`` is after
  imports, before the selection) and the largest of any one worker process (polled every
  0.2 s from ``/proc`` over the driver's descendants: process-pool workers and Ray's
  ``ray::`` workers);
- the driver's anonymous resident memory (``RssAnon`` in ``/proc/self/status``: heap and
  stacks, not the pages of files it maps, which ``VmHWM`` also counts and the kernel can
  drop), base and the largest of samples every 0.2 s;
- whether both executors wrote the same subset bytes (sha256).

A benchmark, not a test: nothing is asserted; the targets (Ray <= 15% over local; driver
memory flat in the pool's size) are printed beside the figures.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_select import draw_shard, make_captions, make_vocab  # noqa: E402  (a sibling script)

ARCH = "l14"
DIM = 768


# ----- the pool ------------------------------------------------------------------------------------
def write_pool(root: Path, rows: int, shard_rows: int, vocab: list[str], seed: int = 0) -> None:
    """A metadata-only pool of ``rows`` rows with DataComp's parquet columns and fp16 l14 npz."""
    import pandas as pd

    from harness.pool.writer import shard_stem, write_embeddings, write_metadata, write_pool_info

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, DIM)).astype(np.float32)
    root.mkdir(parents=True, exist_ok=True)
    for s, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        img, txt, uids = draw_shard(rng, centres, n)
        sim = (img * txt).sum(1)
        frame = pd.DataFrame({
            "uid": uids, "url": [f"https://example.invalid/{u[:12]}.jpg" for u in uids],
            "text": make_captions(n, vocab, rng),
            "original_width": rng.integers(64, 2048, n), "original_height": rng.integers(64, 2048, n),
            "sha256": [hashlib.sha256(u.encode()).hexdigest() for u in uids],
            "clip_b32_similarity_score": (sim * 0.9).astype(np.float32),
            "clip_l14_similarity_score": sim.astype(np.float32),
            "face_bboxes": [[] for _ in range(n)]})
        write_metadata(root / f"{shard_stem(s)}.parquet", frame)
        write_embeddings(root / f"{shard_stem(s)}.npz", {f"{ARCH}_img": img, f"{ARCH}_txt": txt})
    write_pool_info(root, {"name": root.name, "embedding": ARCH})


def ensure_pool(root: Path, rows: int, shard_rows: int, entries: int, targets: int) -> dict:
    """Write the pool, the metaclip metadata and the normsim targets unless already there."""
    info_path = root / "pool.json"
    rng = np.random.default_rng(1)
    vocab = make_vocab(max(entries * 2, 4000), rng)
    meta, target = root / "bench_metaclip.json", root / "bench_targets.npy"
    made = 0.0
    if not (info_path.is_file() and json.loads(info_path.read_text()).get("size") == rows):
        t = time.perf_counter()
        write_pool(root, rows, shard_rows, vocab)
        made = time.perf_counter() - t
    if not meta.is_file():
        meta.write_text(json.dumps(vocab[:entries]))
    if not target.is_file():
        t = rng.normal(size=(targets, DIM)).astype(np.float32)
        np.save(target, t / np.linalg.norm(t, axis=1, keepdims=True))
    return {"metaclip": str(meta), "targets": str(target), "write_s": made}


# ----- the driver process (one selection or one floor measurement) ----------------------------
def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _is_worker(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return cmd.startswith(b"ray::") or b"multiprocessing" in cmd


def _rss_kinds_kb(pid: int) -> dict:
    """``RssAnon`` (heap, stacks: private memory), ``RssFile`` (mapped file pages the kernel
    can drop) and ``RssShmem`` of a process, from ``/proc/PID/status``."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict:
    """CPU seconds so far of this driver, of its waited-for child processes (the local
    executor's workers, once joined), of its live Ray workers (``ray::`` processes) and of the
    other live processes below it (Ray's own daemons: raylet, GCS, monitors)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {"driver": me.ru_utime + me.ru_stime, "joined_children": children.ru_utime + children.ru_stime,
           "ray_workers": 0.0, "ray_daemons": 0.0}
    for pid in _descendants(os.getpid()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        out["ray_workers" if cmd.startswith(b"ray::") else "ray_daemons"] += _cpu_s(pid)
    return out


class WorkerPeak(threading.Thread):
    """Polls the largest ``VmHWM`` of any worker process below this one, and this process's
    own anonymous and file-backed resident memory (the kernel keeps no peak of those: the
    largest of the samples, every 0.2 s)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kb, self.stop = 0, threading.Event()
        self.anon_kb = self.file_kb = 0

    def sample_self(self) -> None:
        kinds = _rss_kinds_kb(os.getpid())
        self.anon_kb = max(self.anon_kb, kinds.get("RssAnon", 0))
        self.file_kb = max(self.file_kb, kinds.get("RssFile", 0) + kinds.get("RssShmem", 0))

    def run(self):
        me = os.getpid()
        while not self.stop.is_set():
            self.sample_self()
            for pid in _descendants(me):
                if _is_worker(pid):
                    self.peak_kb = max(self.peak_kb, _vm_hwm_kb(pid))
            self.stop.wait(0.2)


class Touch:
    """The floor's per-shard work: read one byte of every 4 KiB page of each embedding array
    (uncompressed npz members are memory-mapped: this makes the bytes come from disk or the
    page cache); return the row count."""

    def __call__(self, shard):
        for arr in shard.embeddings.values():
            int(np.asarray(arr).reshape(-1).view(np.uint8)[::4096].sum())
        return np.array([len(shard)])


def child_main(spec: dict) -> dict:
    """Run one measurement in this fresh process; return times and memory."""
    from harness.pool.layout import Pool
    from harness.select.base import STRATEGIES, Budget
    from harness.select.engine import build_strategy, make_context, run_selection
    from harness.select.executors import make_executor

    STRATEGIES.names()
    import torch  # noqa: F401  (every method's imports in the base)

    ray_start = None
    if spec["executor"] == "ray":
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=spec["workers"], include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base_anon = _rss_kinds_kb(os.getpid()).get("RssAnon", 0)
    peak = WorkerPeak()
    peak.start()
    cpu0 = cpu_snapshot()
    t = time.perf_counter()
    out = {}
    if spec["kind"] == "floor":
        pool = Pool.open(spec["pool"])
        strat = build_strategy(spec["name"], spec["params"], make_context(pool))
        ex = make_executor(spec["workers"], kind=spec["executor"])
        rows = ex.map_shards(Touch(), pool, strat.columns, strat.embedding_keys())
        ex.close()
        out["rows"] = int(sum(int(r[0]) for r in rows))
    else:
        m = run_selection(spec["pool"], spec["name"], spec["params"], Budget(fraction=spec["fraction"]),
                          0, spec["out"], workers=spec["workers"], progress=False,
                          executor=spec["executor"])
        out["sha256"], out["selected"] = m["subset_sha256"], m["selected"]
    out["seconds"] = time.perf_counter() - t
    cpu1 = cpu_snapshot()
    out["cpu_s"] = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0}
    peak.stop.set()
    peak.join()
    peak.sample_self()
    out.update(driver_base_mb=base / 1024,
               driver_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               driver_anon_base_mb=base_anon / 1024, driver_anon_peak_mb=peak.anon_kb / 1024,
               driver_file_peak_mb=peak.file_kb / 1024,
               worker_peak_mb=peak.peak_kb / 1024, ray_start_s=ray_start)
    if spec["executor"] == "ray":
        import ray

        ray.shutdown()
    return out


def run_child(spec: dict) -> dict:
    """``child_main`` in a fresh interpreter; its JSON result (or the error's last line)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----- the table -----------------------------------------------------------------------------------
def methods(files: dict, args) -> list[tuple[str, str, dict]]:
    """(label, strategy, params) of the measured methods."""
    return [("clip_score", "clip_score", {"source": "embeddings"}),  # f.g, not the stored column
            ("normsim p=2", "normsim", {"p": "2", "target": files["targets"]}),
            ("normsim p=inf", "normsim", {"p": "inf", "target": files["targets"]}),
            ("s_cliploss", "s_cliploss", {"batch_size": args.scl_batch, "num_batchings": args.scl_k}),
            ("metaclip", "metaclip", {"metadata": files["metaclip"]})]


def main(argv=None) -> int:
    """Parse arguments, write or reuse the pool, measure, print the Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=Path, help="where the simulated pool is written (required)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--shard-rows", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fraction", type=float, default=0.3)
    ap.add_argument("--targets", type=int, default=1000, help="normsim target embeddings")
    ap.add_argument("--entries", type=int, default=2000, help="metaclip metadata entries")
    ap.add_argument("--scl-batch", type=int, default=1024)
    ap.add_argument("--scl-k", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated labels to run (default all)")
    ap.add_argument("--executors", default="local,ray", help="local, ray or both (default)")
    ap.add_argument("--ray-floor", action="store_true",
                    help="also measure the I/O floor through Ray (its per-task overhead)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child_main(json.loads(args.child))))
        return 0
    if args.pool is None:
        ap.error("--pool DIR is required (the simulated pool is written there)")
    files = ensure_pool(args.pool, args.rows, args.shard_rows, args.entries, args.targets)
    if files["write_s"]:
        print(f"pool written to {args.pool} in {files['write_s']:.0f} s", flush=True)
    subsets = args.pool.parent / (args.pool.name + "-subsets")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    rows = []
    for label, name, params in methods(files, args):
        if only and label not in only:
            continue
        base = {"pool": str(args.pool), "name": name, "params": params, "workers": args.workers,
                "fraction": args.fraction}
        floor = run_child({**base, "kind": "floor", "executor": "local"})
        if args.ray_floor:
            floor["ray_floor"] = run_child({**base, "kind": "floor", "executor": "ray"})
        res = {}
        for kind in args.executors.split(","):
            out = subsets / f"{name}-{abs(hash(json.dumps(params))) % 10**6}-{kind}.npy"
            res[kind] = run_child({**base, "kind": "select", "executor": kind, "out": str(out)})
            out.unlink(missing_ok=True)
            out.with_suffix(".json").unlink(missing_ok=True)
        rows.append((label, floor, res.get("local"), res.get("ray")))
        print(json.dumps({"method": label, "floor": floor, **res}), flush=True)
    print(table(rows, args))
    return 0


def table(rows, args) -> str:
    """The Markdown table of ``rows`` (an executor that was not run shows ``-``)."""
    lines = [f"{args.rows:,} rows, {args.shard_rows:,} a shard, {args.workers} workers, "
             f"budget.fraction={args.fraction}",
             "",
             "| method | I/O floor s | local s (x floor) | Ray s (x floor) | Ray / local | same bytes "
             "| driver RSS base / peak MB (local, Ray) | driver anon base / peak MB (local, Ray) "
             "| worker peak MB (local, Ray) |",
             "|---|---|---|---|---|---|---|---|---|"]

    def both(loc, ray, fmt) -> str:
        return ", ".join("-" if r is None else fmt(r) for r in (loc, ray))

    def mem(base, peak):
        return lambda r: f"{r[base]:.0f} / {r[peak]:.0f}"

    for label, floor, loc, ray in rows:
        if any("error" in r for r in (floor, loc, ray) if r is not None):
            err = next(r["error"] for r in (floor, loc, ray) if r is not None and "error" in r)
            lines.append(f"| {label} | error: {err} ||||||||")
            continue
        f = floor["seconds"]
        times = ["-" if r is None else f"{r['seconds']:.1f} ({r['seconds'] / f:.2f})"
                 for r in (loc, ray)]
        ratio = same = "-"
        if loc is not None and ray is not None:
            ratio = f"{ray['seconds'] / loc['seconds']:.2f}"
            same = "yes" if loc["sha256"] == ray["sha256"] else "NO"
        lines.append(
            f"| {label} | {f:.1f} | {times[0]} | {times[1]} | {ratio} | {same} "
            f"| {both(loc, ray, mem('driver_base_mb', 'driver_peak_mb'))} "
            f"| {both(loc, ray, mem('driver_anon_base_mb', 'driver_anon_peak_mb'))} "
            f"| {both(loc, ray, lambda r: format(r['worker_peak_mb'], '.0f'))} |")
    starts = [r[3].get("ray_start_s") for r in rows if r[3] is not None and r[3].get("ray_start_s")]
    lines += ["", "Driver RSS peak: the kernel's VmHWM (includes mapped file pages); driver anon: "
              "RssAnon (private memory), largest of samples every 0.2 s."]
    if starts:
        lines += [f"Ray start-up (not in the times above): {min(starts):.1f}-{max(starts):.1f} s. "
                  "Targets: Ray / local <= 1.15; driver peak flat in the pool's size."]
    return "\n".join(lines + breakdown(rows))


def breakdown(rows) -> list[str]:
    """Where the time goes (rows measured with --ray-floor): the I/O floor through each
    executor, and the CPU seconds of the driver, the workers and Ray's daemons in each run."""
    out = ["", "| method | floor local s | floor Ray s | CPU s local: driver / workers "
           "| CPU s Ray: driver / workers / daemons |", "|---|---|---|---|---|"]
    for label, floor, loc, ray in rows:
        rf = (floor or {}).get("ray_floor")
        if not rf or "error" in rf or loc is None or ray is None or "error" in loc or "error" in ray:
            continue
        lc, rc = loc.get("cpu_s", {}), ray.get("cpu_s", {})
        out.append(f"| {label} | {floor['seconds']:.1f} | {rf['seconds']:.1f} "
                   f"| {lc.get('driver', 0):.1f} / {lc.get('joined_children', 0):.1f} "
                   f"| {rc.get('driver', 0):.1f} / {rc.get('ray_workers', 0):.1f} / {rc.get('ray_daemons', 0):.1f} |")
    return out if len(out) > 3 else []


if __name__ == "__main__":
    sys.exit(main())
