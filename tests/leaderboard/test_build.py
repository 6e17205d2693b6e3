"""build_leaderboard end to end on result files: DataComp columns, seed summaries, outputs."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from harness.errors import SelbenchError
from harness.leaderboard.build import build_leaderboard, format_text_table
from leaderboard_fixtures import ALPHA, write_run

COLS = ("ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval", "Average")
# Hand-computed from conftest.ALPHA / BETA (before the per-seed offset):
#   ImageNet = objects; shifts = (0.2+0.3+0.4)/3; VTAB = (0.1+0.6+0.2+0.3+0.8)/5;
#   Retrieval = 0.25; Average = (sum of the 11 tasks)/11 = 4.15/11 (alpha), 4.25/11 (beta)
BASE = {"alpha": (0.50, 0.30, 0.40, 0.25, 4.15 / 11), "beta": (0.60, 0.30, 0.40, 0.25, 4.25 / 11)}
# offsets alpha (0, .02, .04): mean .02, sample std .02; beta (0, .01, .05): mean .02,
# sample std sqrt(((-.02)^2 + (-.01)^2 + .03^2) / 2) = sqrt(.0007)
STD = {"alpha": 0.02, "beta": math.sqrt(0.0007)}


def test_runs_and_summary_match_hand_computed_values(sweep, tmp_path):
    board = build_leaderboard([sweep], tmp_path / "lb", plots=False)
    assert board["suite"] == "tiny" and board["scales"] == ["tiny"] and board["complete"]
    assert len(board["runs"]) == 6
    row = next(r for r in board["runs"] if r["strategy"] == "alpha" and r["seed"] == 1)
    for col, base in zip(COLS, BASE["alpha"]):
        assert row[col] == pytest.approx(base + 0.02, abs=1e-12)
    assert row["budget"] == "0.3" and row["complete"] and row["missing"] == ""
    summary = board["summary"]
    assert [r["strategy"] for r in summary] == ["beta", "alpha"]  # by mean Average
    for r in summary:
        assert r["n_seeds"] == 3 and r["seeds"] == "0;1;2"
        for col, base in zip(COLS, BASE[r["strategy"]]):
            assert r[col] == pytest.approx(base + 0.02, abs=1e-12)
            assert r[f"{col} std"] == pytest.approx(STD[r["strategy"]], abs=1e-12)


def test_output_files(built):
    _, out = built
    runs = pd.read_csv(out / "leaderboard.csv")
    assert len(runs) == 6 and list(runs.columns[5:10]) == list(COLS)
    assert runs.loc[0, "ImageNet"] == pytest.approx(0.50) and runs.loc[0, "strategy"] == "alpha"
    summary = pd.read_csv(out / "leaderboard_summary.csv")
    assert summary.loc[0, "strategy"] == "beta"
    assert summary.loc[0, "Average std"] == pytest.approx(math.sqrt(0.0007))
    tasks = pd.read_csv(out / "leaderboard_tasks.csv")
    assert tasks.loc[0, "digits"] == pytest.approx(0.80)
    md = (out / "leaderboard.md").read_text()
    assert "| beta | 0.3 | tiny | 3 | 0.620 ± 0.026 |" in md
    assert "![groups](plots/groups.png)" in md
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_text_table(sweep, tmp_path):
    board = build_leaderboard([sweep], tmp_path / "lb", plots=False)
    text = format_text_table(board, runs=True)
    lines = text.splitlines()
    assert lines[0] == "leaderboard: suite tiny, scale tiny"
    assert "0.620 ± 0.026" in text and "*" not in text
    assert sum(line.startswith("alpha") for line in lines) == 4  # summary + 3 runs


def test_html_is_self_contained(built):
    _, out = built
    page = (out / "leaderboard.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page
    srcs = page.split('src="')[1:]
    assert len(srcs) >= 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "0.620 ± 0.026" in page


def test_plots_created(built):
    board, out = built
    names = sorted(p.name for p in (out / "plots").iterdir())
    assert names == ["audit_concepts.png", "audit_defects.png", "groups.png"]  # one budget: no budget plot
    for path in (out / "plots").iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(board["plots"]) == {"groups", "audit_defects", "audit_concepts"}
    # audit values are averaged over seeds: alpha kept 0.1, 0.11, 0.12 of mismatched pairs
    md = (out / "leaderboard.md").read_text()
    assert "| alpha | 0.3 | 0.400 | 0.110 |" in md and "| beta | 0.3 | 0.400 | 0.310 |" in md


def test_budget_plot_when_several_budgets(sweep, tmp_path):
    for seed in range(2):
        write_run(sweep, "alpha", seed, {k: v - 0.1 for k, v in ALPHA.items()}, budget={"fraction": 0.1})
    out = tmp_path / "lb"
    board = build_leaderboard([sweep], out)
    assert (out / "plots" / "budget.png").is_file() and "budget" in board["plots"]
    low = next(r for r in board["summary"] if r["budget"] == "0.1")
    assert low["n_seeds"] == 2 and low["ImageNet"] == pytest.approx(0.40)
    assert low["ImageNet std"] == pytest.approx(0.0, abs=1e-12)


def test_incomplete_suite_is_flagged_not_averaged(sweep, tmp_path):
    partial = {k: v for k, v in ALPHA.items() if k not in ("digits", "retrieval")}
    write_run(sweep, "gamma", 0, partial)
    out = tmp_path / "lb"
    board = build_leaderboard([sweep], out, plots=False)
    gamma = next(r for r in board["summary"] if r["strategy"] == "gamma")
    assert not gamma["complete"] and gamma["missing"] == "digits;retrieval"
    assert gamma["ImageNet"] == pytest.approx(0.50)
    assert gamma["VTAB"] is None and gamma["Retrieval"] is None and gamma["Average"] is None
    assert board["summary"][-1]["strategy"] == "gamma"  # no Average: listed last
    assert not board["complete"]
    assert board["notes"] == ["gamma budget=0.3: incomplete suite, missing digits, retrieval"]
    text = format_text_table(board)
    assert "gamma budget=0.3: incomplete suite, missing digits, retrieval" in text
    gamma_line = next(line for line in text.splitlines() if line.startswith("gamma"))
    assert gamma_line.endswith(" *") and gamma_line.count(" - ") >= 1
    assert "no *" in (out / "leaderboard.md").read_text()
    assert "missing digits, retrieval" in (out / "leaderboard.html").read_text()


def test_one_incomplete_seed_blanks_the_group_mean(sweep, tmp_path):
    partial = {k: v for k, v in ALPHA.items() if k != "count"}
    write_run(sweep, "alpha", 3, partial)
    board = build_leaderboard([sweep], tmp_path / "lb", plots=False)
    alpha = next(r for r in board["summary"] if r["strategy"] == "alpha")
    assert alpha["n_seeds"] == 4 and not alpha["complete"] and alpha["missing"] == "count"
    assert alpha["VTAB"] is None and alpha["Average"] is None
    assert alpha["ImageNet"] == pytest.approx((0.50 + 0.52 + 0.54 + 0.50) / 4)


def test_outputs_are_deterministic(built, tmp_path):
    _, first = built
    build_leaderboard([first.parent / "sweep"], tmp_path / "b")
    for name in ("leaderboard.csv", "leaderboard_summary.csv", "leaderboard.md", "leaderboard.html",
                 "plots/groups.png", "plots/audit_defects.png"):
        assert (first / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_rebuild_replaces_plots(sweep, tmp_path):
    out = tmp_path / "lb"
    build_leaderboard([sweep], out, plots=False)
    (out / "plots" / "stale.png").write_bytes(b"old")
    build_leaderboard([sweep], out, title="Again", plots=False)
    assert not (out / "plots" / "stale.png").exists()
    assert "<title>Again</title>" in (out / "leaderboard.html").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_manifests_argument(sweep, tmp_path):
    """Result files outside the run layout get their audits from manifests=[...]."""
    src = sweep / "runs" / "alpha" / "0.3" / "seed0"
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "r.jsonl").write_text((src / "eval" / "eval_results.jsonl").read_text())
    out = tmp_path / "lb"
    build_leaderboard([flat / "r.jsonl"], out, plots=False)
    assert "What each strategy kept" not in (out / "leaderboard.md").read_text()
    build_leaderboard([flat / "r.jsonl"], out, manifests=[src / "subset.json"], plots=False)
    assert "| alpha | 0.3 | 0.400 | 0.100 |" in (out / "leaderboard.md").read_text()


def test_params_keep_runs_apart(sweep, tmp_path):
    path = write_run(sweep, "delta", 0, ALPHA)
    lines = [json.loads(t) for t in path.read_text().splitlines()]
    other = tmp_path / "other.jsonl"
    for line in lines:
        line["run"]["params"] = {"batch_size": 64}
        line["run"]["checkpoint_sha256"] = "f" * 64
    other.write_text("".join(json.dumps(line) + "\n" for line in lines))
    board = build_leaderboard([sweep, other], tmp_path / "lb", plots=False)
    names = {r["strategy"] for r in board["runs"]}
    assert {"delta(batch_size=None)", "delta(batch_size=64)"} <= names


def test_same_run_from_two_checkpoints_is_an_error(sweep, tmp_path):
    path = sweep / "runs" / "alpha" / "0.3" / "seed0" / "eval" / "eval_results.jsonl"
    lines = [json.loads(t) for t in path.read_text().splitlines()]
    for line in lines:
        line["run"]["checkpoint_sha256"] = "0" * 64
    copy = tmp_path / "copy.jsonl"
    copy.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(SelbenchError, match="another checkpoint"):
        build_leaderboard([sweep, copy], tmp_path / "lb", plots=False)


def test_same_file_twice_is_harmless(sweep, tmp_path):
    path = sweep / "runs" / "alpha" / "0.3" / "seed0" / "eval" / "eval_results.jsonl"
    board = build_leaderboard([sweep, path], tmp_path / "lb", plots=False)
    assert len(board["runs"]) == 6


def test_unscored_tasks_are_ignored(tmp_path):
    """A datacomp38 line with main_metric null (FairFace) is read and not counted."""
    path = write_run(tmp_path / "s", "alpha", 0, {"imagenet1k": 0.3}, suite="datacomp38", scale="small")
    lines = [json.loads(t) for t in path.read_text().splitlines()]
    extra = dict(lines[0], key="fairness/fairface", dataset="FairFace", metrics={"main_metric": None})
    path.write_text("".join(json.dumps(x) + "\n" for x in [*lines, extra]))
    board = build_leaderboard([path], tmp_path / "lb", plots=False)
    run = board["runs"][0]
    assert run["ImageNet"] == pytest.approx(0.3) and run["n_tasks"] == 1 and not run["complete"]
    assert "fairness/fairface" not in run["missing"] and "vtab/cifar100" in run["missing"]


def test_two_scales_stay_apart(sweep, tmp_path):
    small = write_run(tmp_path / "small", "alpha", 0, ALPHA, scale="small")
    board = build_leaderboard([sweep, small], tmp_path / "lb", plots=False)
    assert board["scales"] == ["small", "tiny"]
    alphas = [r for r in board["summary"] if r["strategy"] == "alpha"]
    assert sorted((r["scale"], r["n_seeds"]) for r in alphas) == [("small", 1), ("tiny", 3)]
    assert "strategy  budget  scale  seeds" in format_text_table(board)


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "1.5", "-0.01", "true", "1e309"])
def test_out_of_range_metric_does_not_rank(tmp_path, value):
    """A main metric that is not a fraction (inf, NaN, > 1, < 0, a bool) is refused by name."""
    path = write_run(tmp_path / "sweep", "alpha", 0, ALPHA)
    text = path.read_text().splitlines()
    line = json.loads(text[0])
    forged = json.dumps(line).replace(f'"main_metric": {json.dumps(line["metrics"]["main_metric"])}',
                                      f'"main_metric": {value}')
    assert forged != json.dumps(line)
    path.write_text("\n".join([forged, *text[1:]]) + "\n")
    with pytest.raises(SelbenchError, match=r"main_metric|not a number"):
        build_leaderboard([path], tmp_path / "board")
    assert not (tmp_path / "board").exists()


def test_non_utf8_results_file(tmp_path):
    path = write_run(tmp_path / "sweep", "alpha", 0, ALPHA)
    path.write_bytes(path.read_bytes().replace(b"alpha", b"alph\xff", 1))
    with pytest.raises(SelbenchError, match="not a UTF-8 results file"):
        build_leaderboard([path], tmp_path / "board")


@pytest.mark.parametrize("field,value", [("strategy", "a|b"), ("strategy", "../x"), ("seed", "1\n2"),
                                         ("suite", "ti ny"), ("scale", ["tiny"]), ("seed", True)])
def test_names_from_result_files_are_checked(tmp_path, field, value):
    path = write_run(tmp_path / "sweep", "alpha", 0, ALPHA)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines:
        line["run"][field] = value
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(SelbenchError, match=f"run {field} .* is not a valid name"):
        build_leaderboard([path], tmp_path / "board")


def test_variants_are_shown_under_their_names(sweep, tmp_path):
    out = tmp_path / "variants"
    for variant, p, ckpt in (("normsim_p2", "2", "a"), ("normsim_pinf", "inf", "b")):
        path = write_run(out, variant, 0, ALPHA)
        lines = [json.loads(t) for t in path.read_text().splitlines()]
        for line in lines:
            line["run"].update(strategy="normsim", variant=variant, params={"p": p},
                               checkpoint_sha256=ckpt * 64)
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    board = build_leaderboard([out], tmp_path / "lb", plots=False)
    assert {r["strategy"] for r in board["runs"]} == {"normsim_p2", "normsim_pinf"}
