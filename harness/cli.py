"""The ``selbench`` command line: ``selbench <command> [word] [key=value ...]``.

Each command is a function ``main(cfg, args) -> int`` in the module that owns its stage,
named here once, lazily, so that ``selbench --help`` imports nothing heavy. ``cfg`` is
``harness/conf/<config>.yaml`` composed with the overrides; ``args`` are the leading words.
"""
from __future__ import annotations

import importlib
import sys
from typing import Sequence

from harness.errors import SelbenchError

# command -> (module:function, config name, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "pool": ("harness.synth.commands:main", "pool",
             "pool build out=DIR [preset=tiny|test] [seed=0] | pool validate pool=DIR"),
    "select": ("harness.select.commands:main", "select",
               "select pool=DIR strategy=NAME budget.fraction=F out=FILE.npy [seed=0]"),
    "train": ("harness.train.commands:main", "train",
              "train pool=DIR subset=FILE.npy scale=tiny out=DIR [seed=0]"),
    "evaluate": ("harness.evaluate.commands:main", "evaluate",
                 "evaluate checkpoint=FILE suite=tiny|datacomp38 data_root=DIR out=DIR"),
    "leaderboard": ("harness.leaderboard.commands:main", "leaderboard",
                    "leaderboard results=[FILE,...] out=DIR"),
    "claims": ("harness.leaderboard.claims_report:main", "claims",
               "claims run=DIR [out=DIR] [claims=tiny] (published claims tested on a sweep)"),
    "submit": ("harness.leaderboard.submit:main", "submit",
               "submit run=DIR name=NAME"),
    "run": ("harness.sweep:run_command", "run",
            "run [-m] [out=DIR] [strategies=[...]] [budgets=[...]] [seeds=[...]] [cell=I] (the main job;\n"
            "               -m: one Hydra job per cell, e.g. hydra/launcher=submitit_slurm)"),
    "plan": ("harness.sweep:plan_main", "run",
             "plan [run overrides] (the sweep's cells, for `run cell=I`)"),
    "status": ("harness.sweep:status_main", "run",
               "status [run overrides] (which cells are done; leaderboard of those)"),
    "ls": ("harness.listing:main", "ls",
           "ls strategies|scales|tasks [suite=tiny|datacomp38] [format=text|json]"),
    "download-evalsets": ("harness.evaluate.download:main", "download_evalsets",
                          "download-evalsets data_root=DIR (needs a network; optional)"),
    "download-assets": ("harness.assets:main", "download_assets",
                        "download-assets [only=[lid176,...]] (DataComp's filter files; needs a network)"),
}


def usage() -> str:
    """The top-level help text."""
    lines = ["usage: selbench <command> [word] [key=value ...]", "", "commands:"]
    for name, (_, _, text) in COMMANDS.items():
        lines.append(f"  {name:<12} {text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print a one-line error and return 2 on ``SelbenchError``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, COMMANDS, n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        print(f"selbench: error: unknown command {name!r}{hint}", file=sys.stderr)
        return 2
    target, config_name, _ = COMMANDS[name]
    words = [a for a in rest if "=" not in a]
    overrides = [a for a in rest if "=" in a]
    if name == "run" and ({"-m", "--multirun"} & set(words)):
        # Hydra composes the config itself (sweep values, launcher groups): harness.multirun
        target, config_name = "harness.multirun:main", None
        words = [w for w in words if w not in ("-m", "--multirun")]
        if words:
            print(f"selbench: error: run takes only key=value overrides, got {' '.join(words)}",
                  file=sys.stderr)
            return 2
    try:
        if config_name is None:
            module, func = target.split(":")
            return int(getattr(importlib.import_module(module), func)(overrides) or 0)
        from harness.config import compose

        cfg = compose(config_name, overrides)
        module, func = target.split(":")
        return int(getattr(importlib.import_module(module), func)(cfg, words) or 0)
    except SelbenchError as exc:
        print(f"selbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("selbench: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
