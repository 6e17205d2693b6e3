"""``selbench leaderboard results=[FILE_OR_DIR,...] out=DIR``."""
from __future__ import annotations

from omegaconf import ListConfig

from harness.errors import SelbenchError


def as_list(value) -> list[str]:
    """A config value given as one path or a list of paths, as a list of strings."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip() for part in text.split(",") if part.strip()]


def main(cfg, words) -> int:
    """Build the leaderboard of ``cfg.results`` into ``cfg.out`` and print it; return 0."""
    from harness.leaderboard.build import build_leaderboard
    from harness.leaderboard.tables import format_text_table

    if words:
        raise SelbenchError("usage: selbench leaderboard results=[FILE_OR_DIR,...] out=DIR")
    results = as_list(cfg.get("results"))
    if not results:
        raise SelbenchError("leaderboard needs results=[FILE_OR_DIR,...]")
    if not cfg.get("out"):
        raise SelbenchError("leaderboard needs out=DIR")
    from harness.config import integer
    from harness.io import check_out_dir

    digits = integer(cfg.get("digits", 3), "digits", 0)
    if digits > 15:
        raise SelbenchError(f"digits={digits} must be <= 15 (float precision)")
    check_out_dir(cfg.out)
    board = build_leaderboard(results, cfg.out, title=cfg.get("title"),
                              manifests=as_list(cfg.get("manifests")), digits=digits,
                              plots=bool(cfg.get("plots", True)))
    print(format_text_table(board, runs=bool(cfg.get("print_runs", False)), digits=digits))
    print(f"wrote {board['files']['leaderboard.html']} and {len(board['plots'])} plot(s)")
    return 0
