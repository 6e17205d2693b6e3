"""download-evalsets: argument errors (no network in tests) and the offline converters."""
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from harness.cli import main
from harness.evaluate import datasets
from harness.evaluate.download import write_retrieval, write_winogavil
from harness.evaluate.tasks import load_suite


def test_argument_errors(capsys, tmp_path):
    assert main(["download-evalsets"]) == 2
    assert "needs data_root=DIR" in capsys.readouterr().err
    assert main(["download-evalsets", f"data_root={tmp_path}", "suite=tiny"]) == 2
    assert "built with the embedded pool" in capsys.readouterr().err
    assert main(["download-evalsets", f"data_root={tmp_path}", "only=[imagenet2k]"]) == 2
    assert "unknown task 'imagenet2k'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _img(v):
    return Image.fromarray(np.full((32, 32, 3), v, np.uint8))


def test_retrieval_conversion_reads_back_with_clip_benchmark(tmp_path):
    task = {t.key: t for t in load_suite("datacomp38")}["retrieval/flickr_1k_test_image_text_retrieval"]
    examples = [{"image": _img(i * 20), "caption": [f"caption {i} a", f"caption {i} b"]} for i in range(5)]
    assert write_retrieval(examples, task.data_dir(tmp_path), shard_size=2) == 5
    ds = datasets.build(task, tmp_path, transform=lambda im: np.asarray(im).mean(), retrieval=True)
    got = list(ds)
    assert [caps for _, caps in got] == [[f"caption {i} a", f"caption {i} b"] for i in range(5)]
    assert [round(v) for v, _ in got] == [0, 20, 40, 60, 80]


def test_retrieval_images_are_stored_as_downloaded(tmp_path):
    import io
    import tarfile

    from harness.evaluate.download import raw_image
    from harness.errors import SelbenchError

    def encoded(v, fmt):
        buf = io.BytesIO()
        _img(v).save(buf, format=fmt, **({"quality": 37} if fmt == "JPEG" else {}))
        return buf.getvalue()

    originals = [encoded(10, "JPEG"), encoded(200, "PNG"), encoded(90, "JPEG")]
    examples = [{"image": {"bytes": b, "path": f"x{i}"}, "caption": [f"c{i}"]} for i, b in enumerate(originals)]
    task = {t.key: t for t in load_suite("datacomp38")}["retrieval/mscoco_2014_5k_test_image_text_retrieval"]
    assert write_retrieval(examples, task.data_dir(tmp_path), shard_size=5) == 3
    with tarfile.open(task.data_dir(tmp_path) / "test" / "0.tar") as tar:
        stored = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if not m.name.endswith(".txt")}
    assert stored == {"00000000.jpg": originals[0], "00000001.png": originals[1], "00000002.jpg": originals[2]}
    ds = datasets.build(task, tmp_path, transform=lambda im: np.asarray(im).mean(), retrieval=True)
    assert [caps for _, caps in ds] == [["c0"], ["c1"], ["c2"]]
    with pytest.raises(SelbenchError, match="unknown image format"):
        raw_image({"bytes": b"not an image", "path": "y"})


def test_winogavil_conversion_and_evaluator(tmp_path, minimal_checkpoint):
    from harness.evaluate.evaluators import EVALUATORS, Context
    from harness.evaluate.runner import load_model

    task = {t.key: t for t in load_suite("datacomp38")}["misc/winogavil"]
    examples = [{"cue": "Apple", "candidates": [f"w{j}" for j in range(n)],
                 "associations": ["w0", "w2"], "candidate_images": [_img(10 * j) for j in range(n)]}
                for n in (5, 10, 12)]
    write_winogavil(examples, task.data_dir(tmp_path))
    read = list(datasets.read_winogavil(task.data_dir(tmp_path)))
    assert [len(imgs) for _, imgs, _ in read] == [5, 10, 12]
    assert read[0][2].tolist() == [True, False, True, False, False]
    model, tok, tf = load_model(minimal_checkpoint, "selbench-minimal", "cpu")
    out = EVALUATORS.get("winogavil")(replace(task), Context(model, tok, tf, tmp_path, "cpu"))
    assert out["jaccard_score_10-12"] == pytest.approx((out["jaccard_score_10"] + out["jaccard_score_12"]) / 2)
    assert out["jaccard_score_6"] is None and 0 <= out["avg_jaccard_score"] <= 1


def test_shards_with_pickles_are_refused(tmp_path):
    from harness.errors import SelbenchError
    from harness.pool.shards import write_tar

    task = {t.key: t for t in load_suite("tiny")}["count"]
    d = task.data_dir(tmp_path)
    write_tar(d / "test" / "0.tar", [{"__key__": "a", "jpg": b"x", "cls": "0", "pyd": b"\x80\x04N."}])
    (d / "test" / "nshards.txt").write_text("1\n")
    with pytest.raises(SelbenchError, match="pickled members"):
        datasets.build(task, tmp_path, transform=None)


def test_winogavil_prompt():
    from harness.evaluate.evaluators import winogavil_prompt

    assert winogavil_prompt("Apple") == "An apple" and winogavil_prompt("tree") == "A tree"
