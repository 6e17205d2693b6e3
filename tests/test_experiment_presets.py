"""Every experiment preset against the recipe its paper states (issue 10, item 6).

The recipes below are written from the papers (see /shared reference notes quoted in each
entry), not from the YAML: a preset that drifts from its paper, or a new preset without a
recipe here, fails. Each preset is composed exactly as ``selbench run experiment=NAME``
composes it and expanded into its cells by ``harness.run.plan``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import compose, conf_dir
from harness.run import plan

L14 = {"embedding": "l14"}
# scale -> (model, global batch, samples seen, lr, warmup): DataComp Table 2 / scale_configs.py
SCALES = {
    "small": ("ViT-B-32", 4096, 12_800_000, 5e-4, 500),
    "medium": ("ViT-B-32", 4096, 128_000_000, 5e-4, 500),
    "xlarge": ("ViT-L-14", 90112, 12_800_000_000, 1e-3, 10000),
}
# DataComp Table 3: the filters keep their own size; CLIP score L/14 30% is DataComp's global
# threshold at index int(N * 0.3); image-based ∩ CLIP score uses the same 30% threshold.
# The image-based filter uses DataComp's released centroids of that pool and its ImageNet-1k
# L/14 train embeddings as targets.
def table3(scale):
    image = {**L14, "centroids": f"datacomp:{scale}", "target": "datacomp:in1k"}
    return {
        "no_filter": ("natural", {}),
        "datacomp_basic": ("natural", {}),
        "datacomp_text": ("natural", {}),
        "datacomp_image": ("natural", image),
        "clip_score": ("natural", {**L14, "datacomp_fraction": 0.3}),
        "datacomp_image_clip": ("natural", {**image, "clip_fraction": 0.3}),
    }
# Wang et al. (arXiv 2405.19547): negCLIPLoss b = 32768, K = 10, tau = 0.01 (OpenAI L/14),
# top 30%; the best recipe keeps 30% of the pool by negCLIPLoss, then 20% of the pool by
# NormSim_inf; CLIPScore 30% is DataComp's.
SCL = {**L14, "batch_size": 32768, "num_batchings": 10, "temperature": 0.01}
RECIPES = {
    "datacomp_small_table3": ("small", "datacomp38", table3("small")),
    "datacomp_medium_table3": ("medium", "datacomp38", table3("medium")),
    "negcliploss_normsim_medium": ("medium", "datacomp38", {
        "no_filter": ("natural", {}),
        "clip_score": ("natural", {**L14, "datacomp_fraction": 0.3}),
        "s_cliploss": ("0.3", SCL),
        "s_cliploss_normsim": ("0.2", {**SCL, "p": "inf", "s_cliploss_fraction": 0.3, "target": "???"}),
    }),
    # ClipCov (arXiv 2403.12267) compares random, CLIPScore and ClipCov at equal budgets of
    # 5% and 10% (its released CC3M subsets are 5-10%), pseudo-labels from class prompts.
    "clipcov_medium": ("medium", "datacomp38", {
        "random": (["0.05", "0.1"], {}),
        "clip_score": (["0.05", "0.1"], L14),
        "clipcov": (["0.05", "0.1"], {**L14, "class_embeddings": "???"}),
    }),
    # Claims in miniature (issue 9; harness/conf/claims/tiny.yaml), the embedded pool at the
    # tiny scale: DataComp Table 3's baselines at their own size and CLIP score 30%; random
    # 30% (Table 3's comparison at equal size); negCLIPLoss 30% and its 30%-then-20% NormSim_inf
    # recipe with the suite's train splits as target (null = the pool's suite); MetaCLIP
    # balanced at 30%; ClipCov and CLIP score at 5% and 10%. s-CLIPLoss batches within the
    # embedded pool's 10k-row shards: b = 4096, K = 5 (K >= 5 is reported sufficient).
    "claims_tiny": ("tiny", "tiny", {
        "no_filter": ("natural", {}),
        "datacomp_basic": ("natural", {}),
        "datacomp_text": ("natural", {}),
        "datacomp_image": ("natural", {}),
        "datacomp_image_clip": ("natural", {}),
        "random": ("0.3", {}),
        "clip_score": (["0.3", "0.05", "0.1"], {}),
        "s_cliploss": ("0.3", {"batch_size": 4096, "num_batchings": 5}),
        "s_cliploss_normsim": ("0.2", {"batch_size": 4096, "num_batchings": 5, "p": "inf",
                                       "s_cliploss_fraction": 0.3, "target": None}),
        "metaclip": ("0.3", {}),
        # MetaCLIP's ablation: the same matching without balancing (t = infinity), subsampled
        # to the same 30%
        "metaclip_unbalanced": ("0.3", {"t": float("inf")}),
        "clipcov": (["0.05", "0.1"], {}),
    }),
    # MetaCLIP (arXiv 2309.16671): t = 60k on DataComp's 12.8B pool, 12.8B samples seen.
    "metaclip_fixed_t": ("xlarge", "datacomp38", {
        "no_filter": ("natural", {}),
        "metaclip": ("natural", {"t": 60000, "metadata": "???"}),
    }),
}


# the claims are judged on the spread over 3 training seeds (issue 9: "3 seeds")
SEEDS = {"claims_tiny": [0, 1, 2]}


def presets() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml"))


def test_every_preset_has_a_recipe():
    assert presets() == sorted(RECIPES)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_preset_matches_its_paper(name):
    scale, suite, cells = RECIPES[name]
    cfg = compose("run", [f"experiment={name}"])
    assert cfg.scale.name == scale and cfg.suite == suite
    if scale in SCALES:  # DataComp's scales; tiny is selbench's own CPU scale
        model, batch, seen, lr, warmup = SCALES[scale]
        assert (cfg.scale.model, cfg.scale.global_batch_size, cfg.scale.samples_seen) == (model, batch, seen)
        assert (cfg.scale.lr, cfg.scale.warmup) == (lr, warmup)
    assert list(cfg.seeds) == SEEDS.get(name, [0])
    got: dict[str, tuple[list[str], dict]] = {}
    for spec in plan(cfg):
        if spec.seed != cfg.seeds[0]:  # every seed runs the same cells
            continue
        budgets, params = got.setdefault(spec.name, ([], json.loads(spec.params)))
        assert json.loads(spec.params) == params
        budgets.append(spec.budget)
    want = {k: ([b] if isinstance(b, str) else list(b), p) for k, (b, p) in cells.items()}
    assert got == want


def test_negcliploss_normsim_keeps_30_then_20_percent():
    # the two fractions of the best recipe, as fractions of the whole pool
    cfg = compose("run", ["experiment=negcliploss_normsim_medium"])
    cell = [s for s in plan(cfg) if s.strategy == "s_cliploss_normsim"]
    assert [c.budget for c in cell] == ["0.2"]
    assert json.loads(cell[0].params)["s_cliploss_fraction"] == 0.3


def test_reference_sizes_say_what_they_are_a_fraction_of():
    from harness.leaderboard.reference import load_reference

    ref = load_reference()
    assert ref["size_of"].notna().all()
    neg = ref[ref["strategy"].str.startswith("negCLIPLoss")]
    assert len(neg) == 3 and neg["size_of"].str.contains("110M").all()
    clip = ref[(ref["table"] == "datacomp_table3") & (ref["strategy"] == "CLIP score L/14 30%")]
    assert clip.set_index("scale")["size_of"].str.contains("nominal").all()
