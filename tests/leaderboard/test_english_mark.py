"""A filter run with strategy.english=skip is marked next to its name on every leaderboard."""
from __future__ import annotations

import json

from harness.leaderboard.build import build_leaderboard
from leaderboard_fixtures import ALPHA, result_lines


def test_skipped_english_check_is_shown_beside_the_name(tmp_path):
    files = []
    for name, params in (("datacomp_basic", {"english": "skip"}), ("datacomp_text", {})):
        lines = result_lines(name, 0, ALPHA)
        for line in lines:
            line["run"]["params"] = params
        path = tmp_path / name / "eval_results.jsonl"
        path.parent.mkdir()
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        files.append(path)
    build_leaderboard(files, tmp_path / "board", plots=False)
    for out in ("leaderboard.md", "leaderboard.csv", "leaderboard.html"):
        text = (tmp_path / "board" / out).read_text()
        assert "datacomp_basic [English check skipped]" in text, out
        assert "datacomp_text [English" not in text, out
