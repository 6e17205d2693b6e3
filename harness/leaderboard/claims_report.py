"""``selbench claims run=DIR [out=DIR] [claims=tiny]``: test published claims on a sweep.

Reads a sweep's ``eval_results.jsonl`` files (and the subset manifests beside them) with the
leaderboard's readers, computes each claim of the claims file (``harness/conf/claims/<name>.yaml``
or ``claims_file=PATH``) with ``harness.leaderboard.claims``, and writes ``claims.md`` and
``claims.csv`` into ``out`` (default ``<run>/claims``), each atomically. ``run`` may list
several sweep directories (one per pool, e.g. pools built with seeds 0, 1, 2): each is
judged on its own and ``claims.md`` opens with the verdicts side by side.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Mapping, Sequence

from harness.errors import SelbenchError
from harness.io import atomic_path
from harness.leaderboard.claims import (GROUPS, Claim, evaluate_claims, parse_claims)

CSV_COLUMNS = ("sweep", "pool_seed", "pool_fingerprint", "claim", "kind", "metric", "relation",
               "margin", "a", "a_budget", "a_mean", "a_std", "a_n", "a_seeds", "b", "b_budget",
               "b_mean", "b_std", "b_n", "b_seeds", "diff", "diff_std", "order", "tau", "tau_p",
               "tau_seed_mean", "tau_seed_std", "tau_seeds", "verdict", "note", "statement", "source")
FILES = ("claims.md", "claims.csv")


# ----- reading ------------------------------------------------------------------------------
def load_claims(cfg) -> tuple[list[Claim], str]:
    """The claims and their title from ``cfg.claims_file`` (a YAML path) or ``cfg.claims``
    (the composed ``harness/conf/claims/<name>.yaml``)."""
    from omegaconf import OmegaConf

    path = cfg.get("claims_file")
    if path:
        path = Path(str(path))
        if not path.is_file():
            raise SelbenchError(f"claims file {path} not found")
        try:
            data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        except Exception as exc:  # YAML and OmegaConf errors alike: one line naming the file
            raise SelbenchError(f"claims file {path} is not readable YAML: {' '.join(str(exc).split())}") from exc
        where = str(path)
    else:
        node = cfg.get("claims")
        data = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        where = "claims config"
    if not isinstance(data, Mapping):
        raise SelbenchError(f"{where}: a claims file is a mapping with a 'claims' list")
    title = str(data.get("title") or "Claims in miniature")
    return parse_claims(data, where), title


def metric_value(run, metric: str, groups: Mapping | None):
    """``metric`` of one run: a group column (from ``groups``, DataComp's aggregation),
    ``task:<key>`` (that task's main metric), ``task:<key>.<name>`` (another of its metrics,
    e.g. ``task:objects.acc_frequency:tail``) or ``audit:<a.b>`` (a number in the manifest's
    audit). None when the run lacks it."""
    if metric in GROUPS:
        return None if groups is None else groups.get(metric)
    if metric.startswith("task:"):
        key, _, name = metric[5:].partition(".")
        return run.metrics.get(key) if not name else run.task_metrics.get(key, {}).get(name)
    node = (run.manifest or {}).get("audit")
    for part in metric[6:].split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None
    return float(node)


def sweep_table(run_dir: str | Path, metrics: Sequence[str]) -> tuple[dict, dict]:
    """Read one sweep directory: ``(table, info)``.

    ``table`` maps ``(method, budget)`` to ``{seed: {metric: value}}``; ``info`` holds the
    sweep's path, command (``command.txt``), scale, suite, seeds, run count and its pool
    (fingerprint, name, seed). Raises ``SelbenchError`` for a missing directory, a directory
    without results, malformed results, several scales, or results from several pools.
    """
    from harness.evaluate.aggregate import aggregate
    from harness.evaluate.tasks import load_suite
    from harness.leaderboard.runs import find_result_files, load_runs

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SelbenchError(f"run directory {run_dir} not found (give run=DIR, the out= of a `selbench run`)")
    runs = load_runs(find_result_files([run_dir]))
    scales = sorted({r.scale for r in runs})
    if len(scales) > 1:
        raise SelbenchError(f"{run_dir}: runs at several scales ({', '.join(scales)}); a claim "
                            "compares methods at one scale: give one sweep directory per scale")
    suite = load_suite(runs[0].suite)
    table: dict = {}
    for run in runs:
        groups = None
        if any(m in GROUPS for m in metrics):
            try:
                groups = aggregate(dict(run.metrics), suite)
            except SelbenchError as exc:
                raise SelbenchError(f"{run.files[0]}: {exc}") from exc
        values = {m: metric_value(run, m, groups) for m in metrics}
        table.setdefault((run.strategy, run.budget), {})[str(run.seed)] = values
    info = {"sweep": str(run_dir), "scale": scales[0], "suite": runs[0].suite, "runs": len(runs),
            "seeds": sorted({str(r.seed) for r in runs}, key=_seed_order),
            "commands": sweep_commands(run_dir), "pool": pool_identity(runs, run_dir)}
    return table, info


def sweep_commands(run_dir: Path) -> dict[str, str]:
    """``{relative path: text}`` of every ``command.txt`` in the sweep directory, its own first,
    then those of sweeps written into its sub-folders (hidden folders skipped)."""
    found = sorted((p for p in run_dir.rglob("command.txt")
                    if not any(part.startswith(".") for part in p.relative_to(run_dir).parts)),
                   key=lambda p: (len(p.relative_to(run_dir).parts), str(p)))
    return {str(p.relative_to(run_dir)): p.read_text(errors="replace").strip() for p in found}


_CELL = re.compile(r"(?<!\S)cell=(\d+)(?!\S)")


def command_blocks(commands: dict[str, str]) -> list[tuple[str, str]]:
    """``[(label, text)]`` for the report from ``{path: command text}`` (``sweep_commands``).

    The ``command.txt`` files of single cells (``selbench run ... cell=I``) whose texts differ
    only in I become one block, ``... cell=I`` labelled with the cells and file count; every
    other file keeps its own block, in the given order.
    """
    forms = {path: _cell_form(text) for path, text in commands.items()}
    cells: dict[str, list[int]] = {}
    for form in filter(None, forms.values()):
        cells.setdefault(form[0], []).append(form[1])
    blocks, seen = [], set()
    for path, text in commands.items():
        form = forms[path]
        if form is None or len(cells[form[0]]) == 1:
            blocks.append((f"`{path}`", text))
        elif form[0] not in seen:
            seen.add(form[0])
            numbers = sorted(cells[form[0]])
            blocks.append((f"the `command.txt` of {len(numbers)} cells, one run each, I = {_ranges(numbers)}",
                           form[0]))
    return blocks


def _cell_form(text: str) -> tuple[str, int] | None:
    """``(text with cell=I, I)`` for a command naming exactly one ``cell=I``, else None."""
    found = _CELL.findall(text)
    return (_CELL.sub("cell=I", text), int(found[0])) if len(found) == 1 else None


def _ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"``."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        start = n if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if n == start else f"{start}-{n}")
            start = None
    return ", ".join(parts)


def pool_identity(runs, run_dir: Path) -> dict:
    """The pool a sweep selected from: fingerprint and name from the subset manifests, the
    seed from that pool's ``pool.json`` (else the sweep's ``config.yaml``); None where unknown.
    Raises when the manifests name more than one pool."""
    pools: dict = {}
    for run in runs:
        manifest = run.manifest or {}
        pool = manifest.get("pool") if isinstance(manifest.get("pool"), Mapping) else {}
        fingerprint = manifest.get("pool_fingerprint") or pool.get("fingerprint")
        if fingerprint:
            pools.setdefault(str(fingerprint), dict(pool, fingerprint=str(fingerprint)))
    if len(pools) > 1:
        raise SelbenchError(f"{run_dir}: results from {len(pools)} pools; a claim compares methods "
                            "on one pool: give one sweep directory per pool (run=[DIR1,DIR2,...])")
    pool = next(iter(pools.values()), {})
    seed = _pool_json_seed(pool.get("path"))
    source = "pool.json" if seed is not None else None
    if seed is None:
        seed = _config_pool_seed(run_dir / "config.yaml")
        source = "config.yaml" if seed is not None else None
    return {"fingerprint": pool.get("fingerprint"), "name": pool.get("name"), "seed": seed,
            "seed_from": source}


def _pool_json_seed(path) -> int | None:
    if not path:
        return None
    file = Path(str(path)) / "pool.json"
    try:
        seed = json.loads(file.read_text()).get("seed")
    except (OSError, ValueError, AttributeError):
        return None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _config_pool_seed(path: Path) -> int | None:
    """``embedded_pool.seed`` of a ``selbench run`` config when it used the embedded pool."""
    if not path.is_file():
        return None
    from omegaconf import OmegaConf

    try:
        cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception:  # an unreadable config only costs the seed, reported as unknown
        return None
    if not isinstance(cfg, dict) or cfg.get("pool"):
        return None
    seed = (cfg.get("embedded_pool") or {}).get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _seed_order(seed: str) -> tuple:
    return (0, int(seed), "") if seed.lstrip("-").isdigit() else (1, 0, seed)


# ----- the report ---------------------------------------------------------------------------
def build_claims(run_dirs: Sequence[str | Path], claims: list[Claim]) -> list[tuple[dict, list[dict]]]:
    """``[(sweep info, result rows)]`` for each sweep directory, in the order given."""
    if not run_dirs:
        raise SelbenchError("claims needs run=DIR (a sweep directory; several for several pools)")
    metrics = sorted({m for c in claims for m in c.metrics})
    out = []
    for run_dir in run_dirs:
        table, info = sweep_table(run_dir, metrics)
        out.append((info, evaluate_claims(claims, table)))
    return out


def csv_text(sweeps: list[tuple[dict, list[dict]]]) -> str:
    """All result rows as CSV (``CSV_COLUMNS``; numbers in full precision, NaN empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for info, rows in sweeps:
        pool = info["pool"]
        for row in rows:
            out = {k: _csv_cell(row.get(k)) for k in CSV_COLUMNS}
            if row["kind"] == "order":
                out["order"] = " ; ".join(f"{o['method']}@{o['budget']}={_csv_cell(o['mean'])}"
                                          f" (published {o['published']})" for o in row["order"])
                out["tau_seeds"] = ";".join(f"{k}:{_csv_cell(v)}" for k, v in row["tau_seeds"].items())
            out.update(sweep=info["sweep"], pool_seed=_csv_cell(pool["seed"]),
                       pool_fingerprint=pool["fingerprint"] or "")
            writer.writerow(out)
    return buf.getvalue()


def markdown_text(title: str, sweeps: list[tuple[dict, list[dict]]], digits: int = 3) -> str:
    """``claims.md``: the rules, a verdict summary across sweeps (pools) when there are
    several, then per sweep its command, pool, the pairwise and the order claims."""
    lines = [f"# {title}", "", RULES, ""]
    if len(sweeps) > 1:
        lines += _summary(sweeps) + [""]
    for info, rows in sweeps:
        lines += _sweep_section(info, rows, digits)
    claims = {}
    for _, rows in sweeps:
        for row in rows:
            claims.setdefault(row["claim"], (row["statement"], row["source"]))
    lines += ["## The claims", ""]
    lines += [f"- **{cid}**: {statement} ({source})" for cid, (statement, source) in claims.items()]
    return "\n".join(lines) + "\n"


RULES = (
    "Each side is the mean ± sample std (ddof = 1) over training seeds, with n. The difference "
    "d = mean(A) - mean(B) has std s = sqrt(s_A²/n_A + s_B²/n_B). `>`: holds if d - 2s > 0, "
    "does not hold if d + 2s <= 0, else inconclusive. `>=` (margin m): holds if d - 2s >= -m, "
    "does not hold if d + 2s < -m, else inconclusive. Fewer than 2 seeds on a side: inconclusive. "
    "A side absent from the results: not run. Order claims: Kendall's tau-b between the published "
    "values and the means (p two-sided), and per seed; the `>` rule on the per-seed taus against 0 "
    "(s = their std / sqrt(n)) gives the verdict.")


def _pool_text(pool: dict) -> str:
    seed = "unknown" if pool["seed"] is None else str(pool["seed"])
    fp = (pool["fingerprint"] or "unknown")[:12]
    name = f"{pool['name']}, " if pool.get("name") else ""
    return f"pool seed {seed} ({name}fingerprint {fp})"


def direction(row: dict) -> float | None:
    """A row's signed effect: the difference of the means (pairwise) or Kendall's tau of the
    means (order); None when it was not computed."""
    value = row.get("tau") if row.get("kind") == "order" else row.get("diff")
    return None if value is None or math.isnan(value) else float(value)


def _summary(sweeps) -> list[str]:
    header = ["claim", "metric", *[f"pool seed {i['pool']['seed']}" if i["pool"]["seed"] is not None
                                   else i["sweep"] for i, _ in sweeps],
              "same verdict on every pool", "same direction on every pool"]
    rows = []
    for j, row in enumerate(sweeps[0][1]):
        cells = [rs[j] for _, rs in sweeps]
        verdicts = [c["verdict"] for c in cells]
        signs = [direction(c) for c in cells]
        label = "tau" if row.get("kind") == "order" else "d"
        shown = [v if d is None else f"{v} ({label} {d:+.3f})" for v, d in zip(verdicts, signs)]
        same_sign = "-" if None in signs else "yes" if len({d > 0 for d in signs}) == 1 else "no"
        rows.append([row["claim"], row["metric"], *shown, "yes" if len(set(verdicts)) == 1 else "no", same_sign])
    return ["## Verdicts on every pool", "",
            "Each cell: the verdict, and the difference of the means d (or Kendall's tau of the means "
            "for an order claim) whose sign is the direction.", "", *_table(header, rows)]


def _sweep_section(info: dict, rows: list[dict], digits: int) -> list[str]:
    lines = [f"## Sweep {info['sweep']}", "",
             f"{_pool_text(info['pool'])}; scale {info['scale']}, suite {info['suite']}, "
             f"{info['runs']} runs, seeds {', '.join(info['seeds'])}.", ""]
    for name, text in command_blocks(info["commands"]):
        lines += [f"Command ({name}):", "", "```", text, "```", ""]
    if not info["commands"]:
        lines += ["(no command.txt in the sweep directory: the command is not recorded)", ""]
    pairwise = [r for r in rows if r["kind"] == "pairwise"]
    if pairwise:
        header = ["claim", "metric", "A", "B", "A mean ± std (n)", "B mean ± std (n)",
                  "difference ± std", "verdict", "note"]
        body = [[r["claim"], r["metric"], f"{r['a']} @ {r['a_budget']}",
                 f"{r['relation']} {r['b']} @ {r['b_budget']}" + (f" (margin {r['margin']:g})" if r["margin"] else ""),
                 _ms(r["a_mean"], r["a_std"], digits, r["a_n"]), _ms(r["b_mean"], r["b_std"], digits, r["b_n"]),
                 _ms(r["diff"], r["diff_std"], digits), f"**{r['verdict']}**", r["note"]] for r in pairwise]
        lines += _table(header, body) + [""]
    for r in (r for r in rows if r["kind"] == "order"):
        lines += [f"### {r['claim']} ({r['metric']})", ""]
        header = ["method", "budget", "published", "mean ± std (n)"]
        body = [[o["method"], o["budget"], f"{o['published']:g}", _ms(o["mean"], o["std"], digits, o["n"])]
                for o in r["order"]]
        lines += _table(header, body) + [""]
        seeds = ", ".join(f"seed {k}: {_num(v, digits)}" for k, v in r["tau_seeds"].items())
        lines += [f"Kendall tau (means) = {_num(r['tau'], digits)} (p = {_num(r['tau_p'], digits)}); "
                  f"per seed {_ms(r['tau_seed_mean'], r['tau_seed_std'], digits)}"
                  + (f" ({seeds})" if seeds else "") + f": **{r['verdict']}**"
                  + (f" ({r['note']})" if r["note"] else ""), ""]
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return [line(header), "|" + "|".join("---" for _ in header) + "|", *[line(r) for r in rows]]


def _num(value, digits: int) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _ms(mean, std, digits: int, n: int | None = None) -> str:
    if mean is None or math.isnan(mean):
        return "" if n is None else f"- (n={n})"
    text = _num(mean, digits) + (f" ± {_num(std, digits)}" if not math.isnan(std) else "")
    return text + (f" (n={n})" if n is not None else "")


def _csv_cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def write_report(out: str | Path, title: str, sweeps, digits: int = 3) -> dict[str, Path]:
    """Write ``claims.md`` and ``claims.csv`` into ``out``: both built first, each written to
    a temporary name and renamed only when both are complete. Returns name -> path."""
    out = Path(out)
    texts = {"claims.md": markdown_text(title, sweeps, digits), "claims.csv": csv_text(sweeps)}
    check_out(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SelbenchError(f"out={out}: cannot create the folder ({exc.strerror})") from None
    with atomic_path(out / "claims.md") as md_tmp, atomic_path(out / "claims.csv") as csv_tmp:
        md_tmp.write_text(texts["claims.md"])
        csv_tmp.write_text(texts["claims.csv"])
    return {name: out / name for name in FILES}


def check_out(out: Path) -> None:
    """Raise unless ``out`` is a folder or can become one (not a file, not under a file)."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise SelbenchError(f"out={out}: {path} is a file, not a folder")
            return


# ----- the command --------------------------------------------------------------------------
def main(cfg, words) -> int:
    """``selbench claims run=DIR [out=DIR] [claims=tiny|claims_file=PATH]``: print the verdicts
    and write ``claims.md``/``claims.csv``; return 0."""
    from harness.leaderboard.commands import as_list

    if words:
        raise SelbenchError("usage: selbench claims run=DIR [out=DIR] [claims=tiny | claims_file=PATH]")
    run_dirs = as_list(cfg.get("run"))
    if not run_dirs:
        raise SelbenchError("claims needs run=DIR (a sweep directory; run=[DIR1,DIR2] for several pools)")
    out = cfg.get("out")
    if not out:
        if len(run_dirs) > 1:
            raise SelbenchError("claims over several sweeps needs out=DIR")
        out = str(Path(run_dirs[0]) / "claims")
    from harness.config import integer

    digits = integer(cfg.get("digits", 3), "digits", 0)
    if digits > 15:
        raise SelbenchError(f"digits={digits} must be <= 15 (float precision)")
    check_out(Path(str(out)))
    claims, title = load_claims(cfg)
    sweeps = build_claims(run_dirs, claims)
    files = write_report(out, str(cfg.get("title") or title), sweeps, digits)
    for info, rows in sweeps:
        print(f"{info['sweep']} ({_pool_text(info['pool'])}):")
        for row in rows:
            print(f"  {row['claim']:<34} {row['metric']:<24} {row['verdict']}")
    print(f"wrote {files['claims.md']} and {files['claims.csv']}")
    return 0
