"""The ground-truth audit: per-defect and head/tail-concept fractions kept, matched by uid."""
import numpy as np
import pandas as pd

from harness.pool.uid import pair_to_uid, uids_to_array
from harness.select.audit import audit_report, summary_line


def test_report_matches_rows_by_uid_and_accepts_column_aliases(tmp_path):
    hexes = [pair_to_uid(i, 7) for i in range(12)]
    uids = uids_to_array(hexes)
    mask = np.array([True] * 6 + [False] * 6)
    # concept frequencies: a x5, b x3, c x2, d x1 and one row without a concept
    concept = ["a"] * 5 + ["b"] * 3 + ["c", "c", "d", None]
    kind = ["none", "", None, "clean", "text_in_image", "mismatch"] * 2
    frame = pd.DataFrame({"uid": hexes, "defect_kind": kind, "concept_id": concept})
    frame.iloc[::-1].to_parquet(tmp_path / "audit.parquet")  # any row order
    r = audit_report(tmp_path / "audit.parquet", uids, mask)
    assert r["audited_rows"] == 12 and r["pool_rows"] == 12 and r["kept"] == 0.5
    assert r["defect_rows"] == {"clean": 8, "mismatch": 2, "text_in_image": 2}
    assert r["defects_kept"] == {"clean": 0.5, "mismatch": 0.5, "text_in_image": 0.5}
    # 4 concepts: head = round(0.1 * 4) -> at least 1 = [a]; tail = int(4 * 0.5) = 2 = [c, d]
    assert (r["concepts"], r["head_concepts"], r["tail_concepts"]) == (4, 1, 2)
    assert r["concepts_kept"] == {"head": 1.0, "tail": 0.0}
    assert r["concepts_covered"] == 0.5
    line = summary_line(r)
    assert line.startswith("Audit: kept 50% of clean, 50% of mismatch") and "100% of head" in line


def test_report_without_ground_truth_columns(tmp_path):
    hexes = [pair_to_uid(i, 1) for i in range(4)]
    pd.DataFrame({"uid": hexes[:3]}).to_parquet(tmp_path / "audit.parquet")
    r = audit_report(tmp_path / "audit.parquet", uids_to_array(hexes), np.array([1, 0, 0, 1], bool))
    assert r == {"audited_rows": 3, "pool_rows": 4, "kept": round(1 / 3, 6)}
    assert summary_line(r) == ""


def test_frequency_groups_and_domains_from_the_audit(tmp_path):
    hexes = [pair_to_uid(3, i) for i in range(8)]
    mask = np.array([1, 1, 1, 0, 0, 0, 0, 1], bool)
    pd.DataFrame({"uid": hexes,
                  "defect": ["clean", "clean", "blank_image", "clean", "clean", "mismatch", "clean", "clean"],
                  "domain": ["object"] * 6 + ["digit", "text"],
                  "concept": ["dog", "dog", "cat", "cat", "owl", "owl", "digit 1", "rendered text"],
                  "frequency_group": ["head", "head", "mid", "mid", "tail", "tail", None, None],
                  }).to_parquet(tmp_path / "audit.parquet")
    r = audit_report(tmp_path / "audit.parquet", uids_to_array(hexes), mask)
    assert r["domains_kept"] == {"digit": 0.0, "object": 0.5, "text": 1.0}
    assert r["domain_rows"] == {"digit": 1, "object": 6, "text": 1}
    assert r["concepts_kept"] == {"head": 1.0, "mid": 0.5, "tail": 0.0}
    assert r["concepts"] == 5 and r["concepts_covered"] == 0.6
    assert "head_concepts" not in r and r["frequency_groups"] == "from audit.parquet"
    assert "100% of head-concept rows, 50% of mid-concept rows, 0% of tail-concept rows" in summary_line(r)
