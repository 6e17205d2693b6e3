"""Published reference numbers (``leaderboards/reference/*.csv``), as fractions in [0, 1]."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.errors import SelbenchError

REFERENCE_DIR = Path(__file__).resolve().parent.parent.parent / "leaderboards" / "reference"
GROUP_COLUMNS = ("ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval", "Average")
# Training samples seen at DataComp's scales (reference/datacomp.md, "Scales").
SAMPLES_SEEN = {"small": "12.8M", "medium": "128M", "large": "1.28B", "xlarge": "12.8B"}
TABLES = {
    "datacomp_table3": "DataComp Table 3 (baselines)",
    "methods_datacomp_medium": "Selection methods' papers (DataComp medium, L/14 teacher)",
    "metaclip_imagenet": "MetaCLIP (ImageNet zero-shot; own pools and models)",
}


def load_reference(directory: Path | None = None) -> pd.DataFrame:
    """Read every reference CSV into one frame with a ``table`` column (the file's stem).

    Scores are floats (fractions); missing columns (e.g. VTAB for MetaCLIP) are NaN.
    """
    directory = Path(directory or REFERENCE_DIR)
    frames = []
    for stem in TABLES:
        path = directory / f"{stem}.csv"
        if not path.is_file():
            raise SelbenchError(f"reference table {path} is missing")
        frame = pd.read_csv(path, dtype={"scale": str, "size": str, "samples_seen": str},
                            keep_default_na=False, na_values=[""])
        frame.insert(0, "table", stem)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for col in GROUP_COLUMNS:
        out[col] = pd.to_numeric(out[col], errors="raise")
        bad = out[(out[col] < 0) | (out[col] > 1)]
        if len(bad):
            raise SelbenchError(f"reference table {bad.iloc[0]['table']}.csv: {col} outside [0, 1]")
    return out


def published_for_scale(scale: str, directory: Path | None = None) -> dict[str, pd.DataFrame]:
    """Published rows comparable to a leaderboard at ``scale``: ``{table title: frame}``.

    DataComp-scale rows match by ``scale``; rows of other runs (MetaCLIP) match by samples
    seen. Returns ``{}`` for scales that are not DataComp's (e.g. ``tiny``) and when the
    reference directory is absent (a non-editable install).
    """
    directory = Path(directory or REFERENCE_DIR)
    if scale not in SAMPLES_SEEN or not directory.is_dir():  # not a DataComp scale, or an
        return {}                                             # install without leaderboards/
    ref = load_reference(directory)
    out = {}
    for stem, title in TABLES.items():
        rows = ref[ref["table"] == stem]
        by_scale = rows["scale"] == scale
        by_seen = rows["scale"].isna() & (rows["samples_seen"] == SAMPLES_SEEN[scale])
        picked = rows[by_scale | by_seen].dropna(axis=1, how="all")
        if len(picked):
            out[title] = picked.drop(columns=["table"]).reset_index(drop=True)
    return out
