"""Files DataComp's filters use that selbench does not ship: where they live and how to fetch them.

``selbench download-assets [only=[NAME,...]] [assets_dir=DIR]`` downloads them (needs a
network; nothing else calls it), each checked against the sha256 DataComp's own download
helper pins. Strategies find a downloaded file with ``asset_path(name)``, which never
downloads: a missing file is a one-line error naming the command that fetches it.

The folder is ``$SELBENCH_ASSETS`` when set, else ``~/.cache/selbench/assets``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SelbenchError

ASSETS_ENV = "SELBENCH_ASSETS"
ASSETS_FILE = "download_assets.yaml"  # under harness/conf: the table of assets (data, not code)


@dataclass(frozen=True)
class Asset:
    """One downloadable file: its name in the folder, source URL, pinned sha256, and use."""

    filename: str
    url: str
    sha256: str
    what: str


def asset_table() -> dict[str, Asset]:
    """``{name: Asset}`` from ``harness/conf/download_assets.yaml``."""
    from omegaconf import OmegaConf

    from harness.config import conf_dir

    raw = OmegaConf.to_container(OmegaConf.load(conf_dir() / ASSETS_FILE), resolve=True)
    return {name: Asset(**fields) for name, fields in raw["assets"].items()}


def assets_dir() -> Path:
    """``$SELBENCH_ASSETS``, else ``~/.cache/selbench/assets``."""
    env = os.environ.get(ASSETS_ENV)
    return Path(env).expanduser() if env else Path("~/.cache/selbench/assets").expanduser()


def asset_path(name: str, param: str) -> Path:
    """The downloaded file of asset ``name``; a one-line error naming the fix when absent.

    ``param`` names the strategy parameter that takes an explicit path instead.
    """
    table = asset_table()
    if name not in table:
        raise SelbenchError(f"unknown asset {name!r} (known: {', '.join(table)})")
    path = assets_dir() / table[name].filename
    if not path.is_file():
        raise SelbenchError(f"{path} not found ({table[name].what}): run `selbench download-assets "
                            f"only=[{name}]` where a network exists, or pass {param}=PATH")
    return path


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_asset(asset: Asset, folder: Path) -> Path:
    """Download ``asset`` into ``folder`` (temporary name, sha256 checked, then renamed)."""
    target = folder / asset.filename
    if target.is_file() and sha256_of(target) == asset.sha256:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{asset.filename}.part"
    try:
        with urllib.request.urlopen(asset.url) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        got = sha256_of(tmp)
        if got != asset.sha256:
            raise SelbenchError(f"{asset.url}: sha256 {got} is not the pinned {asset.sha256}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def main(cfg, words) -> int:
    """``selbench download-assets``: fetch the chosen (default: all) assets; return 0."""
    if words:
        raise SelbenchError(f"unexpected argument {words[0]!r}: selbench download-assets [only=[NAME,...]]")
    table = asset_table()
    only = list(cfg.get("only") or table)
    unknown = [n for n in only if n not in table]
    if unknown:
        raise SelbenchError(f"unknown asset(s) {', '.join(unknown)} (known: {', '.join(table)})")
    folder = Path(cfg.assets_dir).expanduser() if cfg.get("assets_dir") else assets_dir()
    failed = []
    for name in only:
        print(f"{name}: {table[name].url} -> {folder / table[name].filename}")
        try:
            fetch_asset(table[name], folder)
        except SelbenchError:
            raise
        except Exception as exc:  # network errors: report, go on with the others
            failed.append(f"{name} ({exc.__class__.__name__}: {str(exc).strip()[:120]})")
    if failed:
        raise SelbenchError(f"{len(failed)} download(s) failed: {'; '.join(failed)}")
    return 0
