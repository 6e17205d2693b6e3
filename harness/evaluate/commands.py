"""``selbench evaluate checkpoint=FILE suite=tiny|datacomp38 data_root=DIR out=DIR``."""
from __future__ import annotations

from pathlib import Path

from harness.errors import SelbenchError


def main(cfg, words) -> int:
    """Run ``harness.evaluate.runner.evaluate`` from the composed config; print a summary."""
    from harness.evaluate.aggregate import COLUMNS, aggregate
    from harness.evaluate.runner import evaluate
    from harness.evaluate.tasks import as_key_list

    if words:
        raise SelbenchError(f"unexpected argument {words[0]!r}: "
                            "selbench evaluate checkpoint=FILE suite=NAME data_root=DIR out=DIR")
    for field in ("checkpoint", "data_root", "out"):
        if not cfg.get(field):
            raise SelbenchError(f"selbench evaluate needs {field}=...")
    from harness.config import integer
    from harness.io import check_out_dir

    batch_size = integer(cfg.batch_size, "batch_size", 1)
    num_workers = integer(cfg.num_workers, "num_workers", 0)
    check_out_dir(cfg.out)
    lines = evaluate(Path(cfg.checkpoint), str(cfg.suite), Path(cfg.data_root), Path(cfg.out),
                     allow_missing=bool(cfg.allow_missing), tasks=as_key_list(cfg.get("only")),
                     batch_size=batch_size, model=cfg.get("model"),
                     num_workers=num_workers, device=cfg.get("device"))
    for line in lines:
        score = line["metrics"]["main_metric"]
        print(f"{line['dataset']:<28} {'-' if score is None else f'{score:.4f}'}")
    agg = aggregate({ln["key"]: ln["metrics"]["main_metric"] for ln in lines}, str(cfg.suite))
    for col in COLUMNS:
        print(f"{col:<28} {'-' if agg[col] is None else f'{agg[col]:.4f}'}")
    if not agg["complete"]:
        print(f"(incomplete: {len(agg['missing'])} scored task(s) missing: {', '.join(agg['missing'])})")
    return 0
