"""Selection speed benchmark: scorers against the I/O floor, s-CLIPLoss against the GEMM peak.

    .venv/bin/python tools/bench_select.py                      # 200k rows: a few minutes on 2 cores
    .venv/bin/python tools/bench_select.py --rows 1000000       # the specified size (~3 GB of npz)

Generates a metadata-only pool (parquet + npz, ``--dim``-d fp16 ``l14`` embeddings,
``--shard-rows`` rows a shard, synthetic captions) in a temporary directory and, in the
same run, measures and prints one table:

- the I/O floor: seconds to just read the npz embeddings (all keys, and ``img`` only);
- each scorer's samples/s and its time over the floor of the keys it reads
  (clip_score, normsim p=2 and p=inf against ``--targets`` random targets);
- s-CLIPLoss at ``--scl-batch`` on a ``--scl-rows`` slice with K = ``--scl-k``: achieved
  FLOP/s (2 d sum_B |B|^2 over its batches) against this machine's float32 GEMM peak
  measured in the same run (the best of several square ``--peak-n`` torch matmuls, before
  and after), and the largest error against a float64 evaluation of the formula on a
  sample of rows;
- the peak resident memory of each method, each run in its own child process
  (``VmHWM``; the interpreter with numpy, torch and every method imported is ``base``);
- MetaCLIP matching: captions/s of the Aho-Corasick matcher (``baselines.metaclip``) with
  ``--entries`` entries against the plain per-entry ``in`` loop on a 1% sample, and
  whether both give identical matches;
- ClipCov and NormSim_2-D wall times through the engine, on the first ``--set-rows`` rows.

This is a benchmark, not a test: nothing is asserted; targets are printed beside the
measurements. The pool is deleted at the end unless ``--keep``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ARCH = "l14"


# ----- pool generation -------------------------------------------------------------------------
def make_vocab(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct pseudo-words made of random syllables."""
    syll = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiou"]
    words: set[str] = set()
    while len(words) < n:
        k = rng.integers(2, 5, size=n)
        idx = rng.integers(0, len(syll), size=(n, 4))
        words.update("".join(syll[j] for j in row[:m]) for row, m in zip(idx, k))
    return sorted(words)[:n]


def make_captions(n: int, vocab: list[str], rng: np.random.Generator) -> list[str]:
    """``n`` captions of 6-14 Zipf-distributed vocabulary words with some punctuation."""
    ranks = np.minimum(rng.zipf(1.3, size=(n, 14)) - 1, len(vocab) - 1)
    lengths = rng.integers(6, 15, size=n)
    punct = np.array(["", "", "", ",", ".", "!", ":"])[rng.integers(0, 7, size=n)]
    return [" ".join(vocab[j] for j in row[:m]) + p for row, m, p in zip(ranks, lengths, punct)]


def draw_shard(rng: np.random.Generator, centres: np.ndarray, n: int):
    """``n`` rows around ``centres``: unit image and text embeddings (text = image plus noise of
    a random strength) and 32-hex uids, as ``(img, txt, uids)``."""
    dim = centres.shape[1]
    img = centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, dim)).astype(np.float32)
    img /= np.linalg.norm(img, axis=1, keepdims=True)
    noise = rng.normal(size=(n, dim)).astype(np.float32)
    txt = img + noise * (rng.uniform(1.0, 5.0, size=(n, 1)) / math.sqrt(dim)).astype(np.float32)
    txt /= np.linalg.norm(txt, axis=1, keepdims=True)
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    return img, txt, [f"{int(a):016x}{int(b):016x}" for a, b in raw]


def write_bench_pool(root: Path, rows: int, shard_rows: int, dim: int, vocab: list[str],
                     seed: int = 0) -> None:
    """A metadata-only pool of ``rows`` rows: parquet (uid, text) + npz (fp16 l14_img/l14_txt)."""
    import pandas as pd

    from harness.pool.writer import shard_stem, write_embeddings, write_metadata, write_pool_info

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, dim)).astype(np.float32)
    root.mkdir(parents=True, exist_ok=True)
    for s, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        img, txt, uids = draw_shard(rng, centres, n)
        write_metadata(root / f"{shard_stem(s)}.parquet",
                       pd.DataFrame({"uid": uids, "text": make_captions(n, vocab, rng)}))
        write_embeddings(root / f"{shard_stem(s)}.npz", {f"{ARCH}_img": img, f"{ARCH}_txt": txt})
    write_pool_info(root, {"name": root.name, "embedding": ARCH})


def link_pool(src: Path, dst: Path, shards: int) -> Path:
    """A pool made of symlinks to the first ``shards`` shards of ``src``."""
    dst.mkdir(parents=True, exist_ok=True)
    for pqt in sorted(src.glob("*.parquet"))[:shards]:
        for p in (pqt, pqt.with_suffix(".npz")):
            (dst / p.name).symlink_to(p)
    shutil.copy(src / "pool.json", dst / "pool.json")
    return dst


def slice_pool(src: Path, dst: Path, rows: int) -> Path:
    """A one-shard pool holding the first ``rows`` rows of ``src`` (must fit in its first shard)."""
    import pyarrow.parquet as pq

    from harness.pool.writer import write_embeddings, write_metadata, write_pool_info

    first = sorted(src.glob("*.parquet"))[0]
    frame = pq.read_table(first).to_pandas().iloc[:rows]
    if len(frame) < rows:
        raise SystemExit(f"--scl-rows {rows} exceeds the first shard ({len(frame)} rows)")
    dst.mkdir(parents=True, exist_ok=True)
    write_metadata(dst / "00000000.parquet", frame)
    with np.load(first.with_suffix(".npz"), allow_pickle=False) as f:
        write_embeddings(dst / "00000000.npz", {k: f[k][:rows] for k in f.files})
    write_pool_info(dst, {"name": dst.name, "embedding": ARCH})
    return dst


# ----- measurements in this process --------------------------------------------------------------
def io_floor(pool: Path, keys: list[str]) -> float:
    """Seconds to read ``keys`` from every npz of ``pool`` (the data every scorer must read)."""
    start = time.perf_counter()
    for npz in sorted(pool.glob("*.npz")):
        with np.load(npz, allow_pickle=False) as f:
            for k in keys:
                f[k]
    return time.perf_counter() - start


def gemm_peak(n: int, reps: int = 3) -> float:
    """Best float32 FLOP/s of ``reps`` torch ``n x n`` matrix products (this process's threads)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def metaclip_speed(pool: Path, entries: list[str], max_captions: int, rng) -> dict:
    """Aho-Corasick captions/s vs the per-entry ``in`` loop on a 1% sample; identical matches?"""
    import pyarrow.parquet as pq

    from baselines.metaclip import build_matcher, naive_match

    texts: list[str] = []
    for pqt in sorted(pool.glob("*.parquet")):
        texts += pq.read_table(pqt, columns=["text"]).column("text").to_pylist()
        if len(texts) >= max_captions:
            break
    texts = texts[:max_captions]
    t = time.perf_counter()
    matcher = build_matcher(entries)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    fast = [matcher.match(x) for x in texts]
    fast_s = time.perf_counter() - t
    sample = rng.choice(len(texts), size=max(1, len(texts) // 100), replace=False)
    t = time.perf_counter()
    slow = [naive_match(texts[i], entries) for i in sample]
    slow_s = time.perf_counter() - t
    same = all(fast[i] == s for i, s in zip(sample, slow))
    matched = sum(1 for m in fast if m)
    return {"captions": len(texts), "fast_per_s": len(texts) / fast_s, "slow_per_s": len(sample) / slow_s,
            "build_s": build_s, "identical": same, "matched_share": matched / len(texts)}


# ----- child processes (one method each; peak memory is theirs alone) ----------------------------
def run_child(spec: dict, threads: int) -> dict:
    """Run ``spec`` in a fresh interpreter (this script with ``--child``); return its JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec),
           "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(spec: dict) -> dict:
    """Score (``kind=score``) or select (``kind=select``) as ``spec`` says; time and memory."""
    from harness.pool.layout import Pool
    from harness.select.base import STRATEGIES
    from harness.select.budget import Budget
    from harness.select.engine import build_strategy, make_context, run_selection, score_pool

    STRATEGIES.items()  # import every built-in method before timing
    base = peak_rss_mb()
    pool = Pool.open(spec["pool"])
    t = time.perf_counter()
    out: dict = {}
    if spec["kind"] == "score":
        scorer = build_strategy(spec["name"], spec["params"], make_context(pool, seed=0))
        scores = score_pool(scorer, pool)
        out["rows"] = len(scores)
        if spec["name"] == "s_cliploss":  # time and memory before the float64 check
            out["seconds"] = time.perf_counter() - t
            out["peak_mb"] = peak_rss_mb()
            out["max_error"] = s_cliploss_error(pool, spec["params"], scores, spec.get("sample", 256))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            m = run_selection(pool.root, spec["name"], spec["params"], Budget(**spec["budget"]), 0,
                              Path(tmp) / "subset.npy", progress=False)
        out["rows"] = pool.num_rows
        out["selected"] = m["selected"]
    out.setdefault("seconds", time.perf_counter() - t)
    out.setdefault("peak_mb", peak_rss_mb())
    out["base_mb"] = base
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``VmHWM``; ``ru_maxrss`` keeps the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def s_cliploss_error(pool, params: dict, scores: np.ndarray, sample: int) -> float:
    """Largest |score - float64 formula| over ``sample`` rows of a one-shard pool."""
    from baselines.s_cliploss import batching_permutation

    shard = next(pool.iter_shards((), [f"{ARCH}_img", f"{ARCH}_txt"]))
    f = shard.embeddings[f"{ARCH}_img"].astype(np.float64)
    g = shard.embeddings[f"{ARCH}_txt"].astype(np.float64)
    n, b, tau, k_total = len(f), params["batch_size"], params["temperature"], params["num_batchings"]
    rows = np.random.default_rng(1).choice(n, size=min(sample, n), replace=False)
    ref = np.zeros(len(rows))
    for k in range(k_total):
        perm = batching_permutation(0, shard.files.stem, k, n)
        where = np.empty(n, dtype=np.int64)
        where[perm] = np.arange(n)
        for r, i in enumerate(rows):
            start = where[i] // b * b
            batch = perm[start:start + b]
            row = f[i] @ g[batch].T / tau
            col = f[batch] @ g[i] / tau
            lse = lambda x: x.max() + math.log(np.exp(x - x.max()).sum())  # noqa: E731
            ref[r] += (f[i] @ g[i] - tau / 2 * (lse(row) + lse(col))) / k_total
    return float(np.abs(scores[rows].astype(np.float64) - ref).max())


# ----- the run -----------------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000, help="pool rows (spec: 1,000,000)")
    ap.add_argument("--shard-rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--targets", type=int, default=2048, help="NormSim target rows")
    ap.add_argument("--scl-rows", type=int, default=65_536)
    ap.add_argument("--scl-batch", type=int, default=32_768)
    ap.add_argument("--scl-k", type=int, default=2)
    ap.add_argument("--entries", type=int, default=20_000, help="MetaCLIP metadata entries")
    ap.add_argument("--captions", type=int, default=100_000, help="captions matched by MetaCLIP")
    ap.add_argument("--set-rows", type=int, default=200_000, help="rows for ClipCov / NormSim-D")
    ap.add_argument("--classes", type=int, default=1000, help="ClipCov classes")
    ap.add_argument("--peak-n", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the pool (temp dir)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--pool", type=Path, default=None,
                    help="reuse a pool this script wrote before (with --keep) instead of writing one")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def check_disk(where: Path, rows: int, dim: int) -> None:
    """Stop with a message when the pool (2 fp16 keys + the slice, x1.2) would not fit."""
    need = int((rows + 65_536) * dim * 2 * 2 * 1.2)
    free = shutil.disk_usage(where).free
    if need > free:
        raise SystemExit(f"need ~{need / 1e9:.1f} GB free under {where}, have {free / 1e9:.1f} GB; "
                         "lower --rows")


def main(argv=None) -> int:
    """Generate the pool, run every measurement, print the table."""
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.child is not None:
        print(json.dumps(child_main(json.loads(args.child))))
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench_select-", dir=args.dir))
    check_disk(base, args.rows, args.dim)
    rng = np.random.default_rng(0)
    try:
        return run_bench(args, base, rng)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def run_bench(args, base: Path, rng) -> int:
    lines: list[tuple[str, str, str]] = []

    def add(*cells) -> None:
        lines.append(tuple(str(c) for c in cells))
        print("# " + " | ".join(lines[-1]), file=sys.stderr, flush=True)

    vocab = make_vocab(max(30_000, args.entries + 5000), rng)
    t = time.perf_counter()
    pool = args.pool or base / "pool"
    if args.pool is None:
        write_bench_pool(pool, args.rows, args.shard_rows, args.dim, vocab)
    else:
        from harness.pool.layout import Pool

        args.rows = Pool.open(pool).num_rows
    print(f"# pool: {args.rows} rows, {args.dim}-d fp16, {args.shard_rows}-row shards, "
          f"{'reused' if args.pool else 'written'} in {time.perf_counter() - t:.1f} s under {pool}; "
          f"{args.threads} torch threads", file=sys.stderr)
    io_floor(pool, [f"{ARCH}_img", f"{ARCH}_txt"])  # warm the page cache once
    floor_all = io_floor(pool, [f"{ARCH}_img", f"{ARCH}_txt"])
    floor_img = io_floor(pool, [f"{ARCH}_img"])
    add("I/O floor, img+txt", f"{args.rows / floor_all:,.0f} rows/s", f"{floor_all:.2f} s")
    add("I/O floor, img only", f"{args.rows / floor_img:,.0f} rows/s", f"{floor_img:.2f} s")

    targets = base / "targets.npy"
    np.save(targets, rng.normal(size=(args.targets, args.dim)).astype(np.float32))
    scorers = [("clip_score", {}, floor_all, "target <= 2x"),
               ("normsim", {"p": "2", "target": str(targets)}, floor_img, "target <= 2x"),
               ("normsim", {"p": "inf", "target": str(targets)}, floor_img, "")]
    for name, params, floor, target in scorers:
        r = run_child({"kind": "score", "pool": str(pool), "name": name, "params": params}, args.threads)
        label = name + (f" p={params['p']} ({args.targets} targets)" if "p" in params else "")
        if "error" in r:
            add(label, "failed", r["error"])
            continue
        gemm = ""
        if params.get("p") == "2":  # compute bound: 2 d^2 FLOP a row through T^T T
            gemm = f"; {2 * args.dim**2 * r['rows'] / r['seconds'] / 1e9:.1f} GFLOP/s"
        add(label, f"{r['rows'] / r['seconds']:,.0f} rows/s",
            f"{r['seconds'] / floor:.1f}x floor ({target}){gemm}; peak {r['peak_mb']:.0f} MB "
            f"(base {r['base_mb']:.0f})")

    slice_dir = slice_pool(pool, base / "slice", args.scl_rows)
    scl = {"batch_size": args.scl_batch, "num_batchings": args.scl_k, "temperature": 0.01}
    peak_before = max(gemm_peak(args.peak_n) for _ in range(2))
    r = run_child({"kind": "score", "pool": str(slice_dir), "name": "s_cliploss", "params": scl},
                  args.threads)
    peak = max(peak_before, gemm_peak(args.peak_n))
    add("GEMM peak (float32 torch)", f"{peak / 1e9:.1f} GFLOP/s", f"n={args.peak_n}, best of 3 runs")
    if "error" in r:
        add("s_cliploss", "failed", r["error"])
    else:
        flops = args.scl_k * 2 * args.dim * sum(min(args.scl_batch, args.scl_rows - s) ** 2
                                               for s in range(0, args.scl_rows, args.scl_batch))
        achieved = flops / r["seconds"]
        add(f"s_cliploss b={args.scl_batch} K={args.scl_k} on {args.scl_rows} rows",
            f"{r['rows'] / r['seconds']:,.0f} rows/s",
            f"{achieved / 1e9:.1f} GFLOP/s = {achieved / peak:.0%} of peak (target >= 60%); "
            f"max |err| vs float64 {r['max_error']:.1e} (target <= 1e-4); peak {r['peak_mb']:.0f} MB")

    entries = vocab[:int(args.entries * 0.8)]
    entries += [f"{vocab[i]} {vocab[i + 1]}" for i in range(args.entries - len(entries))]
    try:
        m = metaclip_speed(pool, entries, args.captions, rng)
        add(f"MetaCLIP matching ({len(entries)} entries, {m['captions']} captions)",
            f"{m['fast_per_s']:,.0f} captions/s",
            f"{m['fast_per_s'] / m['slow_per_s']:.0f}x the per-entry loop ({m['slow_per_s']:,.0f}/s; "
            f"target >= 300x); identical: {m['identical']}; matched {m['matched_share']:.0%}; "
            f"build {m['build_s']:.1f} s")
    except ImportError as exc:
        add("MetaCLIP matching", "pending", f"baselines.metaclip matcher not available ({exc})")

    set_pool = link_pool(pool, base / "set_pool", math.ceil(args.set_rows / args.shard_rows))
    classes = base / "classes.npy"
    np.save(classes, rng.normal(size=(args.classes, args.dim)).astype(np.float32))
    for name, params in (("clipcov", {"class_embeddings": str(classes)}),
                         ("normsim", {"dynamic": True})):
        r = run_child({"kind": "select", "pool": str(set_pool), "name": name, "params": params,
                       "budget": {"fraction": 0.1}}, args.threads)
        label = "NormSim_2-D (iters=500)" if name == "normsim" else f"ClipCov ({args.classes} classes)"
        if "error" in r:
            add(label, "failed", r["error"])
        else:
            add(f"{label}, 10% of {r['rows']} rows", f"{r['seconds']:.1f} s wall",
                f"peak {r['peak_mb']:.0f} MB (base {r['base_mb']:.0f})")

    width = max(len(c[0]) for c in lines)
    mid = max(len(c[1]) for c in lines)
    print(f"{'measurement':<{width}}  {'speed':>{mid}}  notes")
    for a, b, c in lines:
        print(f"{a:<{width}}  {b:>{mid}}  {c}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
