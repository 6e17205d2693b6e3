"""The open_clip local-dir: export: files the config references travel with it (issue 10, item 8)."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
import torch

from harness.errors import SelbenchError
from harness.train.export import export_local_dir, referenced_files

TOKENS = r"""
import json, sys
import open_clip
tok = open_clip.get_tokenizer("local-dir:" + sys.argv[1])
print(json.dumps(tok(["a zebra crossing the xylophone"]).tolist()))
"""


@pytest.mark.slow
def test_export_copies_a_custom_bpe_vocabulary(tmp_path, monkeypatch):
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer, default_bpe

    # a smaller BPE vocabulary: the first 2,000 merges of open_clip's own
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[:2001]
    bpe = tmp_path / "cfg" / "small_bpe.txt.gz"
    bpe.parent.mkdir()
    bpe.write_bytes(gzip.compress("\n".join(lines).encode("utf-8")))
    cfg = {"embed_dim": 32,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 32},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1,
                        "tokenizer_kwargs": {"bpe_path": "small_bpe.txt.gz"}}}
    (tmp_path / "cfg" / "selbench-test-bpe.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "cfg")
    monkeypatch.setattr("harness.models.MODEL_CONFIG_DIR", tmp_path / "cfg")  # relative paths resolve here
    model = open_clip.create_model("selbench-test-bpe")
    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 1, "state_dict": model.state_dict()}, ckpt)

    target = export_local_dir(ckpt, "selbench-test-bpe", tmp_path / "run" / "export")
    assert (target / "small_bpe.txt.gz").read_bytes() == bpe.read_bytes()
    written = json.loads((target / "open_clip_config.json").read_text())
    assert written["model_cfg"]["text_cfg"]["tokenizer_kwargs"]["bpe_path"] == str((target / "small_bpe.txt.gz").resolve())
    bpe.unlink()  # the export must not need the original

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-c", TOKENS, str(target)], capture_output=True, text=True,
                          cwd=elsewhere, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    small = SimpleTokenizer(bpe_path=str(target / "small_bpe.txt.gz"), context_length=16)
    assert got == small(["a zebra crossing the xylophone"]).tolist()
    assert got != SimpleTokenizer(context_length=16)(["a zebra crossing the xylophone"]).tolist()


def test_missing_referenced_file_is_an_error(tmp_path):
    cfg = {"text_cfg": {"tokenizer_kwargs": {"bpe_path": "nope.txt.gz", "clean": "lower"}}}
    with pytest.raises(SelbenchError, match="bpe_path=nope.txt.gz not found"):
        referenced_files(cfg, tmp_path)
    (tmp_path / "v.gz").write_bytes(b"x")
    cfg["text_cfg"]["tokenizer_kwargs"]["bpe_path"] = "v.gz"
    assert referenced_files(cfg, tmp_path) == {"bpe_path": tmp_path / "v.gz"}
