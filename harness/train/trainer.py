"""``train()``: fixed-compute training of one subset at one scale with open_clip_train.

Layout of ``out``: ``.selbench.lock`` (held while a process works in ``out``: a second
trainer is refused), ``shards/`` (the resharded subset), ``run.json`` (the run's identity,
written once the shards are ready, before training starts), ``open_clip/`` (open_clip's
``out.log`` and ``checkpoints/epoch_N.pt``), ``train.log`` (the child's console),
``segments.jsonl`` (one line per invocation), and, only when training has finished,
``checkpoint.pt`` (the last epoch, published atomically), ``export/`` (the same weights as
an open_clip ``local-dir:`` folder that stock tools load:
``open_clip.create_model_and_transforms("local-dir:OUT/export")``) and ``train.json``. A
rerun of a killed run resumes from its latest whole checkpoint; a rerun of a finished one
returns its ``train.json`` without training. A run that fails before training starts
removes ``out`` if it created it.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from harness.errors import SelbenchError
from harness.io import package_versions, remove_stale_temps, sha256_file, write_json_atomic
from harness.lock import folder_lock
from harness.models import check_offline_model
from harness.pool.layout import Pool
from harness.pool.rules import require_pool_rules
from harness.pool.subset import read_subset
from harness.schemas import read_json, stamp
from harness.train import checkpoints, launch
from harness.train.export import export_local_dir
from harness.train.flags import LOG_NAME, openclip_argv
from harness.train.logs import final_loss, loss_curve
from harness.train.reshard import MAX_SHARD_SIZE, reshard
from harness.train.scales import apply_overrides, load_scale, samples_seen_exact, steps_per_epoch

log = logging.getLogger(__name__)
EXPORT_DIR = "export"  # open_clip local-dir: export of the final checkpoint
RUN_KEYS = ("launcher", "nproc_per_node", "device", "threads", "progress", "max_shard_size",
            "reshard_workers", "executor", "ray_address")


def train(pool_dir, subset, scale: str, out, seed: int = 0, **overrides) -> dict:
    """Train ``scale``'s model on ``subset`` (a DataComp ``.npy``) of the pool; return train.json.

    ``overrides``: run options (``launcher`` local|torchrun|srun, ``nproc_per_node``,
    ``device``, ``threads``, ``progress``, ``max_shard_size``) or scale keys (e.g.
    ``precision``, ``workers``, ``samples_seen``; these become part of the run's identity).
    """
    run_opts = {k: overrides.pop(k) for k in RUN_KEYS if k in overrides}
    spec = apply_overrides(load_scale(scale), {k: v for k, v in overrides.items() if v is not None})
    check_offline_model(spec["model"], "scale.model")  # nothing is downloaded (harness.models)
    subset, out = Path(subset), Path(out)
    pool = Pool.open(pool_dir)
    if len(read_subset(subset)) == 0:
        raise SelbenchError(f"{subset}: subset is empty")
    selection = _selection(subset, pool)
    device = run_opts.get("device") or "auto"  # resolved in the child (harness.train.entry)
    precision = overrides.get("precision") or "auto"
    world = launch.world_size(run_opts.get("launcher", "local"), int(run_opts.get("nproc_per_node", 1)),
                              device)
    identity = {"scale": scale, "scale_params": spec, "seed": int(seed),
                "subset_sha256": sha256_file(subset), "pool_fingerprint": pool.fingerprint}
    done = _finished(out, identity)
    if done is not None:
        log.info("%s: finished run found, skipping", out)
        if not (out / EXPORT_DIR / "open_clip_config.json").is_file():  # finished before exports
            export_local_dir(out / done.get("checkpoint", "checkpoint.pt"), spec["model"], out / EXPORT_DIR)
        return done
    require_pool_rules(pool)  # the rules `pool validate` and `select` apply (harness.pool.rules)
    created = not out.exists()
    with folder_lock(out) as lock_fd:  # one trainer per folder; the training child inherits it
        had_shards = (out / "shards").exists()
        for name in ("run.json", "open_clip_args.json", "train.json"):  # killed writes' temporaries
            remove_stale_temps(out / name, held=True)
        for stale in out.glob(".shards.*.tmp"):  # a reshard killed mid-way (we hold the lock)
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:  # killed before the placeholder file became a folder
                stale.unlink(missing_ok=True)
        try:
            _check_out(out, identity)
            meta = reshard(pool.root, subset, out / "shards",
                           max_shard_size=int(run_opts.get("max_shard_size", MAX_SHARD_SIZE)),
                           progress=run_opts.get("progress", True),
                           workers=int(run_opts.get("reshard_workers") or 1),
                           executor=run_opts.get("executor") or "local",
                           ray_address=run_opts.get("ray_address"))
            if meta["written"] == 0:
                raise SelbenchError(f"{subset}: none of its {meta['listed']} samples are in the "
                                    "pool's tars")
            write_json_atomic(out / "run.json", identity)
        except BaseException:
            if created:  # everything in it is this call's: leave no partial run behind
                shutil.rmtree(out, ignore_errors=True)
            elif not had_shards:
                shutil.rmtree(out / "shards", ignore_errors=True)
            raise
        _run(spec, meta, out, int(seed), device, precision, world, run_opts, lock_fd)
        return _finish(out, identity, spec, selection, subset, meta, run_opts)


def _selection(subset: Path, pool: Pool) -> dict:
    """The subset manifest's selection info; a manifest naming another pool is an error."""
    manifest_path = subset.with_suffix(".json")
    if not manifest_path.is_file():
        return {}
    manifest = read_json("subset manifest", manifest_path)
    fp = manifest.get("pool_fingerprint")
    if fp and fp != pool.fingerprint:
        raise SelbenchError(f"{manifest_path}: subset was selected from pool fingerprint {fp[:12]}..., "
                            f"but {pool.root} has {pool.fingerprint[:12]}...")
    return {k: manifest[k] for k in ("strategy", "variant", "version", "params", "budget", "seed")
            if k in manifest}


def _read_json(path: Path) -> dict:
    """A JSON object from ``path``; a file that is not one is a ``SelbenchError``."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SelbenchError(f"{path}: not valid JSON ({exc}); delete it or choose another out") from exc
    if not isinstance(obj, dict):
        raise SelbenchError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _finished(out: Path, identity: dict) -> dict | None:
    path = out / "train.json"
    if not path.is_file():
        return None
    done = read_json("train.json", path)
    if any(done.get(k) != v for k, v in identity.items()):
        raise SelbenchError(f"{out} holds a finished run of another configuration "
                            f"(scale {done.get('scale')}, seed {done.get('seed')}, subset sha256 "
                            f"{str(done.get('subset_sha256'))[:12]}...); choose another out")
    checkpoint = done.get("checkpoint", "checkpoint.pt")
    if checkpoint != "checkpoint.pt":
        raise SelbenchError(f"{path}: unexpected checkpoint {checkpoint!r} (expected checkpoint.pt)")
    return done if (out / checkpoint).is_file() else None


def _check_out(out: Path, identity: dict) -> None:
    """Refuse to resume another configuration's checkpoints in ``out``."""
    run_json = out / "run.json"
    if run_json.is_file() and checkpoints.epoch_checkpoints(out) and _read_json(run_json) != identity:
        raise SelbenchError(f"{out} holds an unfinished run of another configuration "
                            f"(see {run_json}); choose another out or delete it")


def _run(spec: dict, meta: dict, out: Path, seed: int, device: str, precision: str, world: int,
         opts: dict, lock_fd: int) -> float:
    """Launch (or resume) open_clip_train until the last epoch's checkpoint exists."""
    launcher = opts.get("launcher", "local")
    nproc = int(opts.get("nproc_per_node", 1))
    checkpoints.drop_incomplete(out)
    checkpoints.sync_most_recent(out)
    start = checkpoints.latest_epoch(out)
    if start >= int(spec["epochs"]):
        return 0.0
    workers = int(spec["workers"])
    argv = openclip_argv(spec, (out / "shards").resolve(), meta["num_shards"], out.resolve(), seed,
                         world, device, precision, workers)
    threads = opts.get("threads")
    cmd = launch.command(launcher, nproc, threads, argv, out / "open_clip_args.json",
                         gpu_precision=spec["precision"])
    steps = steps_per_epoch(spec, workers)
    wall = launch.run(cmd, out / "train.log", out / LOG_NAME / "out.log", steps * int(spec["epochs"]),
                      steps, progress=opts.get("progress", True), pass_fds=(lock_fd,))
    end = checkpoints.latest_epoch(out)
    with open(out / "segments.jsonl", "a") as f:
        f.write(json.dumps({"start_epoch": start, "end_epoch": end, "wall_s": round(wall, 3),
                            "samples": (end - start) * steps * int(spec["global_batch_size"]),
                            "world_size": world, "threads": _runtime(out).get("threads", threads)})
                + "\n")
    if end < int(spec["epochs"]):
        raise SelbenchError(f"open_clip_train exited after epoch {end} of {spec['epochs']} "
                            f"(see {out / 'train.log'})")
    return wall


def _runtime(out: Path) -> dict:
    """What the training child resolved (device, torch threads), from its ``runtime.json``."""
    from harness.train.entry import RUNTIME_FILE

    path = out / LOG_NAME / RUNTIME_FILE
    return read_json("runtime.json", path) if path.is_file() else {}


def _segments(out: Path) -> list[dict]:
    path = out / "segments.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x] if path.is_file() else []


def _finish(out, identity, spec, selection, subset, meta, opts) -> dict:
    """Publish ``checkpoint.pt`` and write ``train.json``; return its content."""
    final = checkpoints.epoch_checkpoints(out)[int(spec["epochs"])]
    checkpoints.publish(final, out / "checkpoint.pt")
    export_local_dir(out / "checkpoint.pt", spec["model"], out / EXPORT_DIR)
    segments = _segments(out)
    seg_wall = sum(s["wall_s"] for s in segments)
    seg_samples = sum(s["samples"] for s in segments)
    curve = loss_curve(out / LOG_NAME / "out.log")
    params = _open_clip_params(out / LOG_NAME / "params.txt")
    result = {
        **identity,
        "model": spec["model"],
        "samples_seen": samples_seen_exact(spec, int(spec["workers"])),
        "subset": str(subset),
        "selection": selection,
        "wall_time_s": round(seg_wall, 3),
        "samples_per_s": round(seg_samples / seg_wall, 2) if seg_wall else None,
        "final_loss": final_loss(curve),
        "loss_curve": [[r["epoch"], r["samples"], r["loss"]] for r in curve],
        "checkpoint": "checkpoint.pt",
        "checkpoint_sha256": sha256_file(out / "checkpoint.pt"),
        "export": EXPORT_DIR,  # open_clip local-dir: folder (harness.train.export)
        "reshard": {**{k: meta.get(k) for k in ("listed", "unique_listed", "written",
                                                "missing_from_tars", "num_shards",
                                                "failed_tar_count", "failed_tars")},
                    # counted, logged skips (harness.pool.shards); 0 in a reshard before they were kept
                    **{k: meta.get(k, 0) for k in ("unreadable_samples", "damaged_tar_members")}},
        "device": params.get("device"),
        "precision": params.get("precision"),
        "launcher": opts.get("launcher", "local"),
        "segments": segments,
        "versions": package_versions(),
    }
    result = stamp("train.json", result, str(out / "train.json"))
    write_json_atomic(out / "train.json", result)
    return result


def _open_clip_params(path: Path) -> dict:
    """``key: value`` lines of open_clip's ``params.txt`` (resolved device, precision, ...)."""
    if not path.is_file():
        return {}
    pairs = (line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line)
    return {k.strip(): v.strip() for k, v in pairs}
