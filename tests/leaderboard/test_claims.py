"""`selbench claims`: statistics, Kendall's tau and the verdict rules against hand-computed
values, the claims files, and the report written from hand-made sweep directories."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import SelbenchError
from harness.leaderboard.claims import (FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Claim, Side,
                                        budget_text, difference, evaluate_claims, kendall_tau,
                                        mean_std, parse_claims, verdict)
from leaderboard_fixtures import result_lines, sha

TASKS = ("objects", "objects_sketch", "objects_corrupt", "objects_background", "count", "color",
         "position", "texture", "digits", "rendered_sst2", "retrieval")


# ----- statistics ----------------------------------------------------------------------------
def test_mean_and_sample_std():
    assert mean_std([0.1, 0.2, 0.3]) == pytest.approx((0.2, 0.1))  # ddof = 1: sqrt(0.02 / 2)
    assert mean_std([2.0, 4.0]) == pytest.approx((3.0, math.sqrt(2)))
    mean, std = mean_std([0.5])
    assert mean == 0.5 and math.isnan(std)
    assert all(math.isnan(x) for x in mean_std([]))


def test_difference_and_its_std():
    # s_a = s_b = 0.1, n = 3: sqrt(0.01/3 + 0.01/3) = 0.0816497
    d, s = difference([0.3, 0.4, 0.5], [0.1, 0.2, 0.3])
    assert d == pytest.approx(0.2) and s == pytest.approx(0.0816497, abs=1e-7)
    # unequal n: s_a^2 = 0.0004 (n 3), s_b^2 = 0.5 * (0.1^2 + 0.1^2)... b = [0.1, 0.3]: s_b^2 = 0.02
    d, s = difference([0.30, 0.32, 0.34], [0.1, 0.3])
    assert d == pytest.approx(0.12) and s == pytest.approx(math.sqrt(0.0004 / 3 + 0.02 / 2))
    assert math.isnan(difference([0.3], [0.1, 0.2])[1])
    assert all(math.isnan(x) for x in difference([], [0.1, 0.2]))


@pytest.mark.parametrize("d, s, relation, margin, expected", [
    (0.2, 0.0816497, ">", 0, HOLDS),           # 0.2 - 0.163 > 0
    (0.1, 0.0816497, ">", 0, INCONCLUSIVE),    # -0.063 <= 0 < 0.263
    (-0.2, 0.0816497, ">", 0, FAILS),          # -0.2 + 0.163 <= 0
    (0.0, 0.0, ">", 0, FAILS),                 # equal, no spread: A is not greater
    (0.0, 0.0, ">=", 0, HOLDS),                # equal, no spread: A is as good
    (0.02, 0.01, ">", 0, INCONCLUSIVE),       # 0.02 - 0.02 = 0 is not > 0
    (0.021, 0.01, ">", 0, HOLDS),
    (-0.01, 0.01, ">=", 0, INCONCLUSIVE),      # -0.03 < 0 <= 0.01
    (-0.03, 0.01, ">=", 0, FAILS),             # -0.03 + 0.02 < 0
    (-0.05, 0.01, ">=", 0.1, HOLDS),           # -0.07 >= -0.1
    (-0.05, 0.01, ">=", 0.06, INCONCLUSIVE),   # -0.07 < -0.06 <= -0.03
    (-0.2, 0.01, ">=", 0.1, FAILS),            # -0.18 < -0.1
    (0.5, math.nan, ">", 0, INCONCLUSIVE),     # fewer than 2 seeds: no std
    (math.nan, math.nan, ">", 0, NOT_RUN),
])
def test_verdict_rules(d, s, relation, margin, expected):
    assert verdict(d, s, relation, margin) == expected


def test_verdict_rejects_unknown_relation_and_negative_margin():
    with pytest.raises(SelbenchError, match="unknown relation"):
        verdict(0.1, 0.01, "<")
    with pytest.raises(SelbenchError, match="margin"):
        verdict(0.1, 0.01, ">=", -0.1)


def test_kendall_tau_against_hand_counts():
    # one discordant pair (3, 4) of 6: tau = (5 - 1) / 6; exact two-sided p = 2 * 4/24
    tau, p = kendall_tau([1, 2, 3, 4], [1, 2, 4, 3])
    assert tau == pytest.approx(2 / 3) and p == pytest.approx(1 / 3)
    tau, p = kendall_tau([1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1])
    assert tau == pytest.approx(-1) and p == pytest.approx(2 / 24)
    # DataComp's medium ImageNet column against itself and against the small column
    medium = [0.176, 0.226, 0.255, 0.268, 0.273, 0.297]
    small = [0.025, 0.038, 0.046, 0.043, 0.051, 0.039]
    assert kendall_tau(medium, medium)[0] == pytest.approx(1)
    # small-scale order: discordant pairs (text, image), (text, image∩CLIP), (image, image∩CLIP),
    # (CLIP score, image∩CLIP): 4 of 15 -> tau = (11 - 4) / 15
    assert kendall_tau(medium, small)[0] == pytest.approx(7 / 15)
    assert math.isnan(kendall_tau([1, 2, 3], [0.5, 0.5, 0.5])[0])  # a constant side
    assert math.isnan(kendall_tau([1], [1])[0])
    with pytest.raises(SelbenchError):
        kendall_tau([1, 2], [1])


def test_budget_labels_match_the_leaderboard():
    assert budget_text(0.3) == "0.3" and budget_text("0.05") == "0.05" and budget_text(0.1) == "0.1"
    assert budget_text("natural") == "natural" and budget_text(5000) == "n=5000"
    for bad in (0, -0.1, True, None, "", float("nan")):
        with pytest.raises(SelbenchError):
            budget_text(bad)


# ----- claims evaluated on a table -------------------------------------------------------------
def table_of(values: dict) -> dict:
    """{(method, budget): [v per seed]} -> the claims table with every metric equal to v."""
    return {key: {str(seed): {"ImageNet": v, "Average": v} for seed, v in enumerate(vs)}
            for key, vs in values.items()}


def pair(a, b, relation=">", margin=0.0, metrics=("ImageNet",)) -> Claim:
    return Claim(id="c", source="s", statement="", kind="pairwise", metrics=metrics,
                 a=Side(a[0] if isinstance(a[0], tuple) else (a[0],), a[1]),
                 b=Side(b[0] if isinstance(b[0], tuple) else (b[0],), b[1]),
                 relation=relation, margin=margin)


def test_pairwise_row_statistics_and_verdicts():
    table = table_of({("clip_score", "0.3"): [0.30, 0.32, 0.34],
                      ("no_filter", "natural"): [0.20, 0.21, 0.22],
                      ("random", "0.3"): [0.31, 0.33, 0.29]})
    (row,) = evaluate_claims([pair(("clip_score", "0.3"), ("no_filter", "natural"))], table)
    assert row["a_mean"] == pytest.approx(0.32) and row["a_std"] == pytest.approx(0.02)
    assert row["b_mean"] == pytest.approx(0.21) and row["b_std"] == pytest.approx(0.01)
    assert row["a_n"] == row["b_n"] == 3 and row["a_seeds"] == "0;1;2"
    # d = 0.11, s = sqrt(0.0004/3 + 0.0001/3) = 0.0129099
    assert row["diff"] == pytest.approx(0.11) and row["diff_std"] == pytest.approx(0.0129099, abs=1e-7)
    assert row["verdict"] == HOLDS
    # d = 0.01, s = sqrt(2 * 0.0004 / 3) = 0.0163299: inconclusive
    (row,) = evaluate_claims([pair(("clip_score", "0.3"), ("random", "0.3"))], table)
    assert row["diff_std"] == pytest.approx(0.0163299, abs=1e-7) and row["verdict"] == INCONCLUSIVE
    # the reverse claim: d = -0.11, beyond 2 s below 0
    (row,) = evaluate_claims([pair(("no_filter", "natural"), ("clip_score", "0.3"))], table)
    assert row["verdict"] == FAILS


def test_missing_side_is_not_run_and_alternative_names():
    table = table_of({("metaclip(t=None)", "0.3"): [0.3, 0.31], ("clip_score", "0.3"): [0.2, 0.2]})
    (row,) = evaluate_claims([pair(("clipcov", "0.05"), ("clip_score", "0.05"))], table)
    assert row["verdict"] == NOT_RUN and "clipcov" in row["note"] and "clip_score" in row["note"]
    # alternatives: the first name present is used
    claim = pair((("metaclip_balanced", "metaclip(t=None)"), "0.3"), ("clip_score", "0.3"))
    (row,) = evaluate_claims([claim], table)
    assert row["a"] == "metaclip(t=None)" and row["verdict"] == HOLDS
    # a side whose runs lack the metric is not run either
    table[("clip_score", "0.3")] = {"0": {"ImageNet": None}, "1": {"ImageNet": None}}
    (row,) = evaluate_claims([claim], table)
    assert row["verdict"] == NOT_RUN and "has ImageNet" in row["note"]


def test_one_seed_is_inconclusive():
    table = table_of({("a", "0.3"): [0.9], ("b", "0.3"): [0.1, 0.1]})
    (row,) = evaluate_claims([pair(("a", "0.3"), ("b", "0.3"))], table)
    assert row["verdict"] == INCONCLUSIVE and "fewer than 2 seeds" in row["note"]


def order_claim(published=(0.1, 0.2, 0.3, 0.4)) -> Claim:
    sides = tuple(Side((f"m{i + 1}",), "0.3", p) for i, p in enumerate(published))
    return Claim(id="order", source="s", statement="", kind="order", metrics=("ImageNet",),
                 relation="order", sides=sides)


ORDER_VALUES = {("m1", "0.3"): [0.10, 0.10, 0.10], ("m2", "0.3"): [0.20, 0.35, 0.20],
                ("m3", "0.3"): [0.30, 0.30, 0.30], ("m4", "0.3"): [0.40, 0.40, 0.40]}


def test_order_claim_tau_of_means_and_per_seed():
    (row,) = evaluate_claims([order_claim()], table_of(ORDER_VALUES))
    # means 0.1, 0.25, 0.3, 0.4: the published order, tau 1, exact p = 2/24
    assert row["tau"] == pytest.approx(1) and row["tau_p"] == pytest.approx(1 / 12)
    # seed 1 swaps m2 and m3: taus 1, 2/3, 1; mean 8/9, std sqrt(((1/9)^2 * 2 + (2/9)^2) / 2)
    assert row["tau_seeds"] == pytest.approx({"0": 1, "1": 2 / 3, "2": 1})
    assert row["tau_seed_mean"] == pytest.approx(8 / 9)
    assert row["tau_seed_std"] == pytest.approx(math.sqrt(((1 / 9) ** 2 * 2 + (2 / 9) ** 2) / 2))
    # 8/9 - 2 * 0.19245 / sqrt(3) = 0.667 > 0
    assert row["verdict"] == HOLDS
    assert [o["mean"] for o in row["order"]] == pytest.approx([0.1, 0.25, 0.3, 0.4])


def test_order_claim_reversed_and_missing():
    (row,) = evaluate_claims([order_claim((0.4, 0.3, 0.2, 0.1))], table_of(ORDER_VALUES))
    assert row["tau"] == pytest.approx(-1) and row["verdict"] == FAILS
    values = {k: v for k, v in ORDER_VALUES.items() if k[0] != "m3"}
    (row,) = evaluate_claims([order_claim()], table_of(values))
    assert row["verdict"] == NOT_RUN and "m3" in row["note"]


# ----- the claims file ---------------------------------------------------------------------------
def test_shipped_tiny_claims_parse_and_quote_the_reference():
    from harness.config import compose
    from harness.leaderboard.claims_report import load_claims

    claims, title = load_claims(compose("claims", ["run=x"]))
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) and "claims" in title.lower()
    order = next(c for c in claims if c.kind == "order")
    # DataComp Table 3, medium, ImageNet (reference/datacomp.md)
    assert [s.published for s in order.sides] == [0.176, 0.226, 0.255, 0.268, 0.273, 0.297]
    assert [s.names[0] for s in order.sides] == ["no_filter", "datacomp_basic", "datacomp_text",
                                                 "datacomp_image", "clip_score", "datacomp_image_clip"]
    by_id = {c.id: c for c in claims}
    assert by_id["s_cliploss30_vs_clipscore30"].relation == ">="
    assert "audit:concepts_kept.tail" in by_id["metaclip_balanced_vs_unbalanced"].metrics
    assert {by_id[f"clipcov_vs_clipscore_{k}"].a.budget for k in (5, 10)} == {"0.05", "0.1"}


@pytest.mark.parametrize("data, message", [
    ({}, "non-empty list under 'claims'"),
    ({"claims": [{"id": "x"}]}, "'source'"),
    ({"claims": [{"id": "x", "source": "s", "metrics": ["Imagenet"], "a": {}, "b": {}}]}, "unknown metric"),
    ({"claims": [{"id": "x", "source": "s", "metric": "ImageNet", "relation": "<",
                  "a": {"method": "p", "budget": 0.3}, "b": {"method": "q", "budget": 0.3}}]}, "relation"),
    ({"claims": [{"id": "x", "source": "s", "metric": "ImageNet",
                  "a": {"method": "p", "budget": 0.3}}]}, "sides 'a' and 'b'"),
    ({"claims": [{"id": "x", "source": "s", "metric": "ImageNet", "a": {"method": "p"},
                  "b": {"method": "q", "budget": 0.3}}]}, "'budget' is required"),
    ({"claims": [{"id": "x", "source": "s", "metric": "ImageNet", "kind": "order",
                  "sides": [{"method": "p", "budget": 0.3}, {"method": "q", "budget": 0.3}]}]}, "published"),
    ({"claims": [{"id": "x", "source": "s", "metric": "ImageNet", "wat": 1}]}, "unknown key"),
    ({"claims": [{"id": "x", "source": "s", "metric": "ImageNet", "margin": 0.1,
                  "a": {"method": "p", "budget": 0.3}, "b": {"method": "q", "budget": 0.3}}]}, "'>=' only"),
])
def test_bad_claims_are_one_line_errors(data, message):
    with pytest.raises(SelbenchError, match=message) as exc:
        parse_claims(data, "f.yaml")
    assert "\n" not in str(exc.value) and "f.yaml" in str(exc.value)


def test_duplicate_claim_ids():
    claim = {"id": "x", "source": "s", "metric": "ImageNet", "a": {"method": "p", "budget": 0.3},
             "b": {"method": "q", "budget": 0.3}}
    with pytest.raises(SelbenchError, match="twice"):
        parse_claims({"claims": [claim, claim]}, "f.yaml")


# ----- the command on hand-made sweep directories ----------------------------------------------
CLAIMS_YAML = """
title: Test claims
claims:
  - id: clip_vs_none
    source: DataComp Table 3
    statement: CLIP score beats no filtering
    a: {method: clip_score, budget: 0.3}
    b: {method: no_filter, budget: natural}
    metrics: [ImageNet, Average]
  - id: clip_vs_random
    source: DataComp Table 3
    a: {method: clip_score, budget: 0.3}
    b: {method: random, budget: 0.3}
    metrics: [ImageNet]
  - id: scl_ge_clip
    source: negCLIPLoss
    a: {method: s_cliploss, budget: 0.3}
    b: {method: clip_score, budget: 0.3}
    relation: ">="
    metrics: [ImageNet]
  - id: balance
    source: MetaCLIP
    a: {method: [metaclip_balanced, "metaclip(t=None)"], budget: 0.3}
    b: {method: [metaclip_unbalanced, "metaclip(t=inf)"], budget: 0.3}
    metrics: ["audit:concepts_kept.tail", "task:objects"]
  - id: clipcov5
    source: ClipCov
    a: {method: clipcov, budget: 0.05}
    b: {method: clip_score, budget: 0.05}
    metrics: [ImageNet]
  - id: order
    kind: order
    source: DataComp Table 3
    metrics: [ImageNet]
    sides:
      - {method: no_filter, budget: natural, published: 0.176}
      - {method: random, budget: 0.3, published: 0.2}
      - {method: clip_score, budget: 0.3, published: 0.273}
"""


def write_cell(root: Path, method: str, budget, seed: int, value: float, params=None,
               tail=None, fingerprint="f" * 64, pool_path=None) -> None:
    """One run of `selbench run`'s layout whose every task scores ``value``."""
    lines = result_lines(method, seed, {k: value for k in TASKS}, budget=budget)
    params = params or {}
    for line in lines:
        line["run"]["params"] = params
        line["run"]["subset_sha256"] = sha(f"{method} {params} {budget} {seed}")
        line["run"]["checkpoint_sha256"] = sha(f"ckpt {method} {params} {budget} {seed} {root}")
    label = "natural" if budget.get("natural") else str(budget.get("fraction"))
    cell = root / "runs" / (method + "".join(f"-{k}{v}" for k, v in params.items())) / label / f"seed{seed}"
    (cell / "eval").mkdir(parents=True)
    manifest = {"strategy": method, "params": params, "budget": budget, "seed": seed,
                "subset_sha256": lines[0]["run"]["subset_sha256"],
                "pool": {"fingerprint": fingerprint, "name": "selbench-tiny",
                         "path": str(pool_path or root / "nopool")}}
    if tail is not None:
        manifest["audit"] = {"concepts_kept": {"head": 0.3, "tail": tail}}
    (cell / "subset.json").write_text(json.dumps(manifest))
    (cell / "eval" / "eval_results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def make_claims_sweep(root: Path, pool_seed: int = 0, shift: float = 0.0) -> Path:
    frac = {"fraction": 0.3}
    for seed in range(3):
        write_cell(root, "clip_score", frac, seed, [0.30, 0.32, 0.34][seed] + shift)
        write_cell(root, "no_filter", {"natural": True}, seed, [0.20, 0.21, 0.22][seed])
        write_cell(root, "random", frac, seed, [0.31, 0.33, 0.29][seed])
        write_cell(root, "s_cliploss", frac, seed, [0.25, 0.26, 0.27][seed])
        write_cell(root, "metaclip", frac, seed, 0.3, params={"t": None}, tail=[0.9, 0.92, 0.94][seed])
        write_cell(root, "metaclip", frac, seed, 0.3, params={"t": "inf"}, tail=[0.2, 0.25, 0.3][seed])
    (root / "command.txt").write_text("selbench run experiment=claims_tiny\n")
    (root / "metaclip_unbalanced").mkdir()
    (root / "metaclip_unbalanced" / "command.txt").write_text("selbench run strategies=[metaclip] out=sub\n")
    (root / "config.yaml").write_text(f"pool: null\nembedded_pool:\n  seed: {pool_seed}\n")
    return root


@pytest.fixture
def claims_file(tmp_path) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIMS_YAML)
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_command_writes_claims_md_and_csv(tmp_path, claims_file, capsys):
    sweep = make_claims_sweep(tmp_path / "sweep")
    out = tmp_path / "out"
    assert main(["claims", f"run={sweep}", f"out={out}", f"claims_file={claims_file}"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["claims.csv", "claims.md"]  # no temp files
    rows = {(r["claim"], r["metric"]): r for r in read_csv(out / "claims.csv")}
    assert len(rows) == 8
    row = rows[("clip_vs_none", "Average")]
    assert float(row["a_mean"]) == pytest.approx(0.32) and float(row["b_std"]) == pytest.approx(0.01)
    assert float(row["diff"]) == pytest.approx(0.11) and row["a_n"] == "3"
    assert float(row["diff_std"]) == pytest.approx(0.0129099, abs=1e-7) and row["verdict"] == HOLDS
    assert row["pool_seed"] == "0" and row["pool_fingerprint"] == "f" * 64
    assert rows[("clip_vs_random", "ImageNet")]["verdict"] == INCONCLUSIVE
    assert rows[("scl_ge_clip", "ImageNet")]["verdict"] == FAILS           # d = -0.06, s = 0.0129
    # parameters that tell the two MetaCLIP runs apart name them; the audit metric is read
    tail = rows[("balance", "audit:concepts_kept.tail")]
    assert (tail["a"], tail["b"]) == ("metaclip(t=None)", "metaclip(t=inf)")
    assert float(tail["diff"]) == pytest.approx(0.67) and tail["verdict"] == HOLDS
    assert rows[("balance", "task:objects")]["verdict"] == FAILS            # equal, no spread
    assert rows[("clipcov5", "ImageNet")]["verdict"] == NOT_RUN
    assert "clipcov" in rows[("clipcov5", "ImageNet")]["note"]
    order = rows[("order", "ImageNet")]
    # means 0.21 < 0.31 < 0.32 against 0.176 < 0.2 < 0.273: tau 1; seed 2: random 0.29 < none? no:
    # seed values (0.20, 0.31, 0.30), (0.21, 0.33, 0.32), (0.22, 0.29, 0.34): taus 1/3, 1/3, 1
    assert float(order["tau"]) == pytest.approx(1)
    assert float(order["tau_seed_mean"]) == pytest.approx(5 / 9)
    md = (out / "claims.md").read_text()
    assert "selbench run experiment=claims_tiny\n" in md and "pool seed 0" in md
    assert "Command (`metaclip_unbalanced/command.txt`)" in md
    assert md.index("Command (`command.txt`)") < md.index("metaclip_unbalanced/command.txt")
    assert "# Test claims" in md and "**not run**" in md and "Kendall tau" in md
    assert "0.320 ± 0.020 (n=3)" in md and "0.110 ± 0.013" in md
    printed = capsys.readouterr().out
    assert "clipcov5" in printed and "not run" in printed


def test_default_out_is_under_the_run_and_rerun_replaces(tmp_path, claims_file):
    sweep = make_claims_sweep(tmp_path / "sweep")
    assert main(["claims", f"run={sweep}", f"claims_file={claims_file}"]) == 0
    first = (sweep / "claims" / "claims.csv").read_text()
    assert main(["claims", f"run={sweep}", f"claims_file={claims_file}"]) == 0
    assert (sweep / "claims" / "claims.csv").read_text() == first  # deterministic


def test_the_shipped_claims_report_every_claim(tmp_path):
    sweep = make_claims_sweep(tmp_path / "sweep")
    assert main(["claims", f"run={sweep}"]) == 0
    rows = read_csv(sweep / "claims" / "claims.csv")
    from harness.config import compose
    from harness.leaderboard.claims_report import load_claims

    claims, _ = load_claims(compose("claims", ["run=x"]))
    assert len(rows) == sum(len(c.metrics) for c in claims)  # nothing dropped
    verdicts = {(r["claim"], r["metric"]): r["verdict"] for r in rows}
    assert verdicts[("clipscore30_vs_no_filter", "ImageNet")] == HOLDS
    assert verdicts[("datacomp_table3_order", "ImageNet")] == NOT_RUN
    assert verdicts[("metaclip_balanced_vs_unbalanced", "audit:concepts_kept.tail")] == HOLDS


def test_several_pools_side_by_side(tmp_path, claims_file):
    a = make_claims_sweep(tmp_path / "pool0", pool_seed=0)
    b = make_claims_sweep(tmp_path / "pool1", pool_seed=1, shift=-0.2)  # CLIP score collapses
    out = tmp_path / "out"
    assert main(["claims", f"run=[{a},{b}]", f"out={out}", f"claims_file={claims_file}"]) == 0
    rows = read_csv(out / "claims.csv")
    assert {r["pool_seed"] for r in rows} == {"0", "1"} and len(rows) == 16
    md = (out / "claims.md").read_text()
    assert "## Verdicts on every pool" in md
    line = next(x for x in md.splitlines() if x.startswith("| clip_vs_none | ImageNet |"))
    assert line == "| clip_vs_none | ImageNet | holds (d +0.110) | does not hold (d -0.090) | no | no |"
    summary = md.split("## Verdicts on every pool", 1)[1].split("\n## ", 1)[0]
    lines = {tuple(x.split(" | ")[:2]): x for x in summary.splitlines() if x.startswith("| ")}
    assert lines[("| balance", "audit:concepts_kept.tail")].endswith(
        "| holds (d +0.670) | holds (d +0.670) | yes | yes |")
    assert lines[("| clipcov5", "ImageNet")].endswith("| not run | not run | yes | - |")


def test_pool_seed_from_the_pool_json(tmp_path, claims_file):
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "pool.json").write_text(json.dumps({"seed": 7}))
    sweep = tmp_path / "sweep"
    write_cell(sweep, "clip_score", {"fraction": 0.3}, 0, 0.3, pool_path=pool)
    write_cell(sweep, "clip_score", {"fraction": 0.3}, 1, 0.3, pool_path=pool)
    assert main(["claims", f"run={sweep}", f"claims_file={claims_file}"]) == 0
    rows = read_csv(sweep / "claims" / "claims.csv")
    assert {r["pool_seed"] for r in rows} == {"7"}
    assert "no command.txt" in (sweep / "claims" / "claims.md").read_text()


# ----- bad input: one line on stderr, exit 2, nothing written -----------------------------------
def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("selbench: error:")
    return err


def test_missing_run_directory(tmp_path, capsys):
    err = one_line_error(capsys, ["claims", f"run={tmp_path / 'nope'}", f"out={tmp_path / 'o'}"])
    assert "not found" in err and not (tmp_path / "o").exists()


def test_run_directory_without_results(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = one_line_error(capsys, ["claims", f"run={tmp_path / 'empty'}"])
    assert "no eval_results.jsonl" in err and not (tmp_path / "empty" / "claims").exists()


def test_malformed_results(tmp_path, capsys, claims_file):
    sweep = make_claims_sweep(tmp_path / "sweep")
    bad = next(sweep.rglob("eval_results.jsonl"))
    bad.write_text(bad.read_text() + "{not json\n{\"key\": 1}\n")
    err = one_line_error(capsys, ["claims", f"run={sweep}", f"claims_file={claims_file}"])
    assert str(bad) in err and not (sweep / "claims").exists()


def test_results_from_two_pools_in_one_sweep(tmp_path, capsys, claims_file):
    sweep = tmp_path / "sweep"
    write_cell(sweep, "clip_score", {"fraction": 0.3}, 0, 0.3, fingerprint="a" * 64)
    write_cell(sweep, "random", {"fraction": 0.3}, 0, 0.3, fingerprint="b" * 64)
    err = one_line_error(capsys, ["claims", f"run={sweep}", f"claims_file={claims_file}"])
    assert "2 pools" in err


def test_usage_errors(tmp_path, capsys, claims_file):
    assert "needs run=DIR" in one_line_error(capsys, ["claims"])
    sweep = make_claims_sweep(tmp_path / "s")
    assert "needs out=DIR" in one_line_error(capsys, ["claims", f"run=[{sweep},{sweep}]"])
    assert "not found" in one_line_error(capsys, ["claims", f"run={sweep}", "claims_file=/nope.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims: [{id: x}]\n")
    assert "'source'" in one_line_error(capsys, ["claims", f"run={sweep}", f"claims_file={bad}"])
    assert "claims/nope" in one_line_error(capsys, ["claims", f"run={sweep}", "claims=nope"])
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "under"):
        assert "is a file" in one_line_error(capsys, ["claims", f"run={sweep}", f"out={out}"])
    for digits in ("abc", "-1", "400"):
        assert f"digits={digits}" in one_line_error(capsys, ["claims", f"run={sweep}", f"digits={digits}"])
    assert not (sweep / "claims").exists()


def test_task_metric_other_than_the_main_one(tmp_path):
    """task:<key>.<metric> reads another metric of a task's results line (e.g. the accuracy
    on the pool's tail concepts); task:<key> stays the main metric; a missing one is None."""
    from harness.leaderboard.claims import check_metric
    from harness.leaderboard.claims_report import metric_value
    from harness.leaderboard.runs import load_runs

    lines = result_lines("metaclip", 0, {"objects": 0.25, "count": 0.5})
    lines[0]["metrics"].update({"acc_frequency:tail": 0.125, "acc_frequency:head": 0.375, "acc5": None})
    path = tmp_path / "eval_results.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    [run] = load_runs([path])
    assert metric_value(run, "task:objects", None) == 0.25
    assert metric_value(run, "task:objects.acc_frequency:tail", None) == 0.125
    assert metric_value(run, "task:objects.acc5", None) is None
    assert metric_value(run, "task:count.acc_frequency:tail", None) is None
    check_metric("task:objects.acc_frequency:tail")


def test_command_blocks_merge_single_cell_runs_of_one_sweep():
    from harness.leaderboard.claims_report import command_blocks

    commands = {"command.txt": "selbench run experiment=claims_tiny",
                "a/seed0/command.txt": "selbench run experiment=claims_tiny cell=3",
                "a/seed1/command.txt": "selbench run experiment=claims_tiny cell=4",
                "b/seed0/command.txt": "selbench run experiment=claims_tiny cell=9",
                "c/seed0/command.txt": "selbench run 'seeds=[0,1,2]' cell=7",
                "d/seed2/command.txt": "selbench run experiment=claims_tiny cell=5"}
    assert command_blocks(commands) == [
        ("`command.txt`", "selbench run experiment=claims_tiny"),
        ("the `command.txt` of 4 cells, one run each, I = 3-5, 9", "selbench run experiment=claims_tiny cell=I"),
        ("`c/seed0/command.txt`", "selbench run 'seeds=[0,1,2]' cell=7")]
    # a command with no cell, or a cell=I that is not a whole word, is kept as written
    odd = {"x/command.txt": "selbench run out=cell=3x", "y/command.txt": "selbench run"}
    assert command_blocks(odd) == [("`x/command.txt`", "selbench run out=cell=3x"),
                                   ("`y/command.txt`", "selbench run")]
