"""``selbench select``: run one selection from the command line and summarise it."""
from __future__ import annotations

from pathlib import Path

from harness.errors import SelbenchError

USAGE = ("usage: selbench select pool=DIR strategy=NAME budget.fraction=F|budget.count=K|"
         "budget.threshold=X|budget=natural out=FILE.npy [seed=0] [workers=1] [executor=local|ray] "
         "[ray.address=HOST:PORT] [strategy.PARAM=VALUE ...]")


def main(cfg, words) -> int:
    """Run ``run_selection`` from ``harness/conf/select.yaml`` + overrides; print a summary; return 0."""
    from harness.config import to_plain
    from harness.select.budget import budget_from_mapping
    from harness.select.engine import run_selection

    if words:
        raise SelbenchError(f"unexpected word(s) {' '.join(words)}; {USAGE}")
    for key in ("pool", "out"):
        if not cfg.get(key):
            raise SelbenchError(f"select needs {key}=...; {USAGE}")
    spec = to_plain(cfg.strategy) or {}
    name = spec.pop("name", None)
    if not name:
        raise SelbenchError(f"select needs strategy=NAME (see `selbench ls strategies`); {USAGE}")
    from harness.config import integer

    seed, workers = integer(cfg.seed, "seed"), integer(cfg.get("workers", 1), "workers", 1)
    budget = budget_from_mapping(to_plain(cfg.budget))
    manifest = run_selection(cfg.pool, name, spec, budget, seed=seed, out=cfg.out, workers=workers,
                             progress=bool(cfg.get("progress", True)),
                             overwrite=bool(cfg.get("overwrite", False)),
                             executor=str(cfg.get("executor", "local")),
                             ray_address=(cfg.get("ray") or {}).get("address"))
    print(summary(manifest, cfg.out))
    return 0


def summary(manifest: dict, out) -> str:
    """One paragraph describing a selection manifest (and its audit when present)."""
    from harness.select.audit import summary_line

    pool = manifest["pool"]
    rows, kept = pool["rows"], manifest["selected"]
    params = ", ".join(f"{k}={v}" for k, v in manifest["params"].items() if v is not None)
    if manifest.get("embedding"):
        params = ", ".join(p for p in (params, f"embeddings {manifest['embedding']}") if p)
    budget = ", ".join(f"{k}={v}" for k, v in manifest["budget"].items())
    text = (f"Selected {kept} of {rows} rows ({100 * kept / rows:.1f}%) of pool {pool['name']} "
            f"with {manifest['strategy']}" + (f" ({params})" if params else "")
            + f" under budget {budget}, seed {manifest['seed']}, in {manifest['wall_time_s']:.2f} s; "
            f"wrote {out} (sha256 {manifest['subset_sha256'][:12]}) and its manifest "
            f"{Path(out).with_suffix('.json')}.")
    if manifest.get("audit"):
        line = summary_line(manifest["audit"])
        text += (" " + line) if line else ""
    return text
