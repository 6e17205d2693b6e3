"""The published reference tables load, in one unit, with hand-checked values."""
from __future__ import annotations

import pytest

from harness.leaderboard.build import build_leaderboard
from harness.leaderboard.reference import load_reference, published_for_scale
from leaderboard_fixtures import ALPHA, write_run


def _value(ref, table, scale, strategy, column, model=None):
    rows = ref[(ref["table"] == table) & (ref["strategy"] == strategy)]
    rows = rows[rows["scale"] == scale] if scale else rows[rows["scale"].isna()]
    if model:
        rows = rows[rows["model"] == model]
    assert len(rows) == 1, (table, scale, strategy)
    return rows.iloc[0][column]


def test_tables_load_with_sources():
    ref = load_reference()
    assert ref.groupby("table").size().to_dict() == {
        "datacomp_table3": 20, "methods_datacomp_medium": 6, "metaclip_imagenet": 7}
    assert ref["source"].notna().all()


@pytest.mark.parametrize("table, scale, strategy, column, expected, model", [
    ("datacomp_table3", "small", "No filtering", "ImageNet", 0.025, None),
    ("datacomp_table3", "medium", "CLIP score L/14 30%", "Average", 0.328, None),
    ("datacomp_table3", "large", "Image ∩ CLIP", "VTAB", 0.546, None),
    ("datacomp_table3", "xlarge", "Image ∩ CLIP", "Average", 0.663, None),
    ("methods_datacomp_medium", "medium", "negCLIPLoss 30%", "ImageNet", 0.288, None),  # 28.8 %
    ("methods_datacomp_medium", "medium", "negCLIPLoss ∩ NormSim_inf(Target)", "VTAB", 0.375, None),
    ("methods_datacomp_medium", "medium", "DFN (medium)", "Average", 0.373, None),
    ("metaclip_imagenet", None, "MetaCLIP-400M", "ImageNet", 0.708, "ViT-B/16"),  # 70.8 %
    ("metaclip_imagenet", None, "Unbalanced 1.6B pool", "ImageNet", 0.619, "ViT-B/32"),
])
def test_hand_checked_values(table, scale, strategy, column, expected, model):
    assert _value(load_reference(), table, scale, strategy, column, model) == pytest.approx(expected)


def test_published_for_scale():
    assert published_for_scale("tiny") == {}
    medium = published_for_scale("medium")
    assert [len(f) for f in medium.values()] == [7, 6]
    xlarge = published_for_scale("xlarge")
    assert [len(f) for f in xlarge.values()] == [3, 7]  # Table 3 + MetaCLIP (12.8B seen)
    assert "VTAB" not in list(xlarge.values())[1].columns


def test_real_scale_leaderboard_shows_published_numbers(tmp_path):
    path = write_run(tmp_path / "s", "alpha", 0, ALPHA, scale="medium")
    out = tmp_path / "lb"
    build_leaderboard([path], out, plots=False)
    page = (out / "leaderboard.html").read_text()
    assert "Published: DataComp Table 3" in page and "negCLIPLoss 30%" in page
    assert "0.344" in page  # negCLIPLoss 30% Average, 34.4 %
    tiny = write_run(tmp_path / "t", "alpha", 0, ALPHA)
    build_leaderboard([tiny], tmp_path / "lb2", plots=False)
    assert "Published" not in (tmp_path / "lb2" / "leaderboard.html").read_text()
