"""selbench download-assets: pinned sha256, temporary name then rename, no partial files.

No network: the asset table is pointed at local files through file:// URLs.
"""
from __future__ import annotations

import hashlib

import pytest
from omegaconf import OmegaConf

from harness import assets
from harness.errors import SelbenchError


@pytest.fixture
def local_table(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.bin").write_bytes(b"model bytes")
    (src / "bad.bin").write_bytes(b"tampered")
    good = hashlib.sha256(b"model bytes").hexdigest()
    table = {"good": assets.Asset("good.bin", (src / "good.bin").as_uri(), good, "a file"),
             "bad": assets.Asset("bad.bin", (src / "bad.bin").as_uri(), good, "a file")}
    monkeypatch.setattr(assets, "asset_table", lambda: table)
    monkeypatch.setenv(assets.ASSETS_ENV, str(tmp_path / "assets"))
    return tmp_path / "assets"


def test_download_checks_sha256_and_renames(local_table):
    assert assets.main(OmegaConf.create({"only": ["good"], "assets_dir": None}), []) == 0
    assert (local_table / "good.bin").read_bytes() == b"model bytes"
    assert assets.asset_path("good", "strategy.x") == local_table / "good.bin"
    with pytest.raises(SelbenchError, match="sha256 .* is not the pinned"):
        assets.main(OmegaConf.create({"only": ["bad"], "assets_dir": None}), [])
    assert sorted(p.name for p in local_table.iterdir()) == ["good.bin"]  # no partial file


def test_missing_asset_names_the_command(local_table):
    with pytest.raises(SelbenchError, match=r"run `selbench download-assets only=\[bad\]`.*strategy.x=PATH"):
        assets.asset_path("bad", "strategy.x")
    with pytest.raises(SelbenchError, match="unknown asset"):
        assets.main(OmegaConf.create({"only": ["nope"], "assets_dir": None}), [])


def test_table_pins_datacomps_files():
    table = assets.asset_table()
    assert {"lid176", "centroids_small", "centroids_medium", "in1k_clip_vit_l14_4"} <= set(table)
    assert table["lid176"].filename == "lid.176.bin"
    assert all(len(a.sha256) == 64 for a in table.values())
