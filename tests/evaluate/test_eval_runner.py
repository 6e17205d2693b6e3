"""The tiny suite end to end with a random selbench-minimal checkpoint; reruns; bad input."""
import json
import shutil

import numpy as np
import pytest

from harness.cli import main
from harness.errors import SelbenchError
from harness.evaluate.aggregate import aggregate
from harness.evaluate.results import RESULTS_FILE, read_results
from harness.evaluate.runner import evaluate
from harness.evaluate.tasks import load_suite

from evaluate_fixtures import save_minimal_checkpoint, write_classification


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_evalsets, minimal_checkpoint):
    """The whole tiny suite evaluated once: (out dir, returned lines)."""
    out = tmp_path_factory.mktemp("eval")
    return out, evaluate(minimal_checkpoint, "tiny", tiny_evalsets, out, batch_size=5)


def test_tiny_suite_end_to_end(tiny_run, minimal_checkpoint):
    out, lines = tiny_run
    keys = [t.key for t in load_suite("tiny")]
    assert [ln["key"] for ln in lines] == keys
    assert read_results(out / RESULTS_FILE) == lines
    info = json.loads((minimal_checkpoint.parent / "train.json").read_text())
    for ln in lines:
        assert ln["run"] == {"strategy": "clip_score", "params": {"fraction": 0.3},
                             "budget": {"fraction": 0.3}, "seed": 0, "scale": "tiny",
                             "model": "selbench-minimal", "suite": "tiny",
                             "subset_sha256": info["subset_sha256"],
                             "checkpoint_sha256": info["checkpoint_sha256"]}
        assert 0.0 <= ln["metrics"]["main_metric"] <= 1.0
    by_key = {ln["key"]: ln["metrics"] for ln in lines}
    assert by_key["digits"]["main_metric"] == by_key["digits"]["mean_per_class_recall"]
    assert by_key["count"]["acc5"] is None                       # 4 classes
    r = by_key["retrieval"]
    assert r["main_metric"] == pytest.approx(0.5 * (r["text_retrieval_recall@1"] + r["image_retrieval_recall@1"]))
    assert aggregate({k: m["main_metric"] for k, m in by_key.items()}, "tiny")["complete"]


def test_rerun_skips_finished_tasks(tiny_run, tiny_evalsets, minimal_checkpoint, monkeypatch):
    out, lines = tiny_run
    before = (out / RESULTS_FILE).read_bytes()
    import harness.evaluate.runner as runner

    monkeypatch.setattr(runner, "load_model", lambda *a, **k: pytest.fail("model loaded on rerun"))
    assert evaluate(minimal_checkpoint, "tiny", tiny_evalsets, out) == lines
    assert (out / RESULTS_FILE).read_bytes() == before


def test_resume_after_interruption(tmp_path, tiny_evalsets, minimal_checkpoint):
    first = evaluate(minimal_checkpoint, "tiny", tiny_evalsets, tmp_path, tasks=["count"])
    with open(tmp_path / RESULTS_FILE, "a") as f:
        f.write('{"key": "color", "data')                      # a run killed mid-write
    lines = evaluate(minimal_checkpoint, "tiny", tiny_evalsets, tmp_path, tasks=["count", "color"])
    assert [ln["key"] for ln in lines] == ["count", "color"] and lines[0] == first[0]
    assert [ln["key"] for ln in read_results(tmp_path / RESULTS_FILE)] == ["count", "color"]


def test_deterministic_metrics(tmp_path, tiny_run, tiny_evalsets, minimal_checkpoint):
    _, lines = tiny_run
    again = evaluate(minimal_checkpoint, "tiny", tiny_evalsets, tmp_path, tasks=["objects"], batch_size=7)
    assert again[0]["metrics"] == lines[0]["metrics"]


def test_missing_datasets_listed_before_any_work(tmp_path, tiny_evalsets, minimal_checkpoint):
    root = tmp_path / "partial"
    shutil.copytree(tiny_evalsets, root)
    shutil.rmtree(root / "count")
    shutil.rmtree(root / "retrieval")
    with pytest.raises(SelbenchError) as err:
        evaluate(minimal_checkpoint, "tiny", root, tmp_path / "out")
    msg = str(err.value)
    assert "2 dataset(s) missing" in msg and f"count ({root / 'count'})" in msg
    assert f"retrieval ({root / 'retrieval'})" in msg and "\n" not in msg
    assert not (tmp_path / "out").exists()
    lines = evaluate(minimal_checkpoint, "tiny", root, tmp_path / "out", allow_missing=True,
                     tasks=["count", "color"])
    assert [ln["key"] for ln in lines] == ["color"]


def test_wrong_architecture_checkpoint(tmp_path, tiny_evalsets):
    ckpt = save_minimal_checkpoint(tmp_path / "run" / "checkpoint.pt", model="selbench-tiny",
                                   train_info={"model": "selbench-minimal"})
    with pytest.raises(SelbenchError, match="is not a selbench-minimal checkpoint"):
        evaluate(ckpt, "tiny", tiny_evalsets, tmp_path / "out", tasks=["count"])
    assert not (tmp_path / "out" / RESULTS_FILE).exists()


def test_pickled_objects_refused(tmp_path, tiny_evalsets):
    import torch

    ckpt = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "payload": np.dtype}, ckpt)   # not loadable with weights_only
    with pytest.raises(SelbenchError, match="cannot be loaded safely"):
        evaluate(ckpt, "tiny", tiny_evalsets, tmp_path / "out", tasks=["count"], model="selbench-minimal")


def test_without_train_json(tmp_path, tiny_evalsets):
    ckpt = save_minimal_checkpoint(tmp_path / "bare" / "model.pt")
    with pytest.raises(SelbenchError, match="pass model=NAME"):
        evaluate(ckpt, "tiny", tiny_evalsets, tmp_path / "out", tasks=["count"])
    [line] = evaluate(ckpt, "tiny", tiny_evalsets, tmp_path / "out", tasks=["count"], model="selbench-minimal")
    run = line["run"]
    assert run["strategy"] is None and run["scale"] is None and run["subset_sha256"] is None
    assert run["suite"] == "tiny" and len(run["checkpoint_sha256"]) == 64


def test_other_checkpoint_in_same_out_is_refused(tmp_path, tiny_evalsets, minimal_checkpoint):
    evaluate(minimal_checkpoint, "tiny", tiny_evalsets, tmp_path, tasks=["count"])
    other = save_minimal_checkpoint(tmp_path / "other" / "checkpoint.pt", seed=1, train_info={})
    with pytest.raises(SelbenchError, match="another checkpoint"):
        evaluate(other, "tiny", tiny_evalsets, tmp_path, tasks=["count"])


def test_cli_evaluate_and_corrupt_results(tmp_path, tiny_evalsets, minimal_checkpoint, capsys):
    args = ["evaluate", f"checkpoint={minimal_checkpoint}", "suite=tiny", f"data_root={tiny_evalsets}",
            f"out={tmp_path}", "only=[count,texture]"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Count" in out and "Texture" in out and "incomplete" in out
    with open(tmp_path / RESULTS_FILE, "a") as f:
        f.write("not json\n")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"selbench: error: {tmp_path / RESULTS_FILE}:3: corrupt results line " + err.split("line ", 1)[1]
    assert err.count("\n") == 1
    assert main(["evaluate", "suite=tiny", f"data_root={tiny_evalsets}", f"out={tmp_path}"]) == 2
    assert "needs checkpoint=" in capsys.readouterr().err


def test_grouped_special_evaluators(tmp_path, minimal_checkpoint):
    """GeoDE / Dollar Street / FMoW scoring from .npy metadata, against metrics.py recomputed."""
    from dataclasses import replace

    from harness.evaluate import metrics as M
    from harness.evaluate.evaluators import EVALUATORS, Context, zero_shot_logits
    from harness.evaluate.runner import load_model

    suite = {t.key: t for t in load_suite("datacomp38")}
    n = 20
    meta = np.stack([np.arange(n) % 3, np.arange(n) % 2, np.zeros(n, int)], axis=1)
    model, tok, tf = load_model(minimal_checkpoint, "selbench-minimal", "cpu")
    ctx = Context(model, tok, tf, tmp_path, "cpu", batch_size=8)
    for key in ("fairness/geode", "fairness/dollar_street", "wilds/fmow"):
        task = replace(suite[key], size=n)
        write_classification(tmp_path / task.dir, 6, n, seed=3, metadata=meta)
        out = EVALUATORS.get(task.evaluator)(task, ctx)
        logits, target = zero_shot_logits(task, ctx)
        assert out["acc1"] == M.accuracy(logits, target)
        if key == "fairness/geode":
            assert out["acc_wg"] == M.worst_group(logits.argmax(1) == target, meta[:, 0])
        elif key == "fairness/dollar_street":
            assert out["acc_top5_wg"] == M.worst_group(M.topk_correct(logits, target, 5), meta[:, 0])
        else:
            assert out["acc_worst_region"] == M.worst_group(logits.argmax(1) == target, meta[:, 0])
            assert out["acc_worst_year"] == M.worst_group(logits.argmax(1) == target, meta[:, 1])


def test_classification_reports_accuracy_per_class_frequency_group(tmp_path, minimal_checkpoint):
    """With class_frequency.json beside the task: acc_frequency:<group>, recomputed from the logits."""
    from dataclasses import replace

    from harness.evaluate.evaluators import EVALUATORS, Context, zero_shot_logits
    from harness.evaluate.runner import load_model

    task = replace({t.key: t for t in load_suite("tiny")}["objects"], size=24)
    write_classification(tmp_path / task.dir, 6, 24, seed=5)
    model, tok, tf = load_model(minimal_checkpoint, "selbench-minimal", "cpu")
    ctx = Context(model, tok, tf, tmp_path, "cpu", batch_size=8)
    assert not any(k.startswith("acc_frequency") for k in EVALUATORS.get("classification")(task, ctx))
    group = ["head", "head", "mid", "mid", "tail", "tail"]
    (tmp_path / task.dir / "class_frequency.json").write_text(
        json.dumps({"classes": [f"class {c}" for c in range(6)], "group": group}))
    out = EVALUATORS.get("classification")(task, ctx)
    logits, target = zero_shot_logits(task, ctx)
    hit = logits.argmax(1) == target
    for g in ("head", "mid", "tail"):
        members = np.isin(target, [c for c in range(6) if group[c] == g])
        assert out[f"acc_frequency:{g}"] == pytest.approx(hit[members].mean())
    (tmp_path / task.dir / "class_frequency.json").write_text(json.dumps({"classes": ["x"], "group": ["head"]}))
    with pytest.raises(SelbenchError, match="class_frequency.json: expected"):
        EVALUATORS.get("classification")(task, ctx)
    (tmp_path / task.dir / "class_frequency.json").write_bytes(b"\xff\xfe")
    with pytest.raises(SelbenchError, match="not a JSON file"):
        EVALUATORS.get("classification")(task, ctx)


def test_fairface_evaluator(tmp_path, minimal_checkpoint):
    """FairFace's per-objective classifiers and grouped metrics, recomputed by hand."""
    import torch
    from clip_benchmark.metrics import zeroshot_classification as zsc

    from harness.evaluate import metrics as M
    from harness.evaluate.evaluators import EVALUATORS, Context
    from harness.evaluate.runner import load_model

    task = {t.key: t for t in load_suite("datacomp38")}["fairness/fairface"]
    n = 16
    rng = np.random.default_rng(0)
    race = rng.integers(0, 3, n)
    meta = np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n), race, (race != 1).astype(int)], 1)
    d = task.data_dir(tmp_path)
    write_classification(d, 2, n, metadata=meta)
    names = {"race": ["black", "white", "asian"], "gender": ["man", "woman"], "age": ["child", "adult", "old"],
             "toxic": [f"thing {i}" for i in range(20)]}
    (d / "classnames.txt").write_text("".join(f"{o}:{c}\n" for o, cs in names.items() for c in cs))
    (d / "zeroshot_classification_templates.txt").write_text(
        "".join(f"{o}:a photo of a {{c}}.\n" for o in names))
    model, tok, tf = load_model(minimal_checkpoint, "selbench-minimal", "cpu")
    ctx = Context(model, tok, tf, tmp_path, "cpu", batch_size=5)
    out = EVALUATORS.get("fairface")(task, ctx)
    from harness.evaluate.datasets import build

    imgs = torch.stack([img for img, _ in build(task, tmp_path, tf)])
    with torch.no_grad():
        feats = model.encode_image(imgs, normalize=True)
    pred = {o: (feats @ zsc.zero_shot_classifier(model, tok, cs, ["a photo of a {c}."], "cpu", amp=False)
                ).argmax(1).numpy() for o, cs in names.items()}
    assert out["acc_race_wg"] == pytest.approx(M.worst_group((pred["race"] != 1) == meta[:, 3], meta[:, 3]))
    assert out["acc_gender_avg"] == pytest.approx(np.mean(pred["gender"] == meta[:, 1]))
    assert out["toxicity_crime_avg"] == pytest.approx(np.mean(pred["toxic"] >= 18))
    assert any(k.startswith("acc_gender_x_race:") and "_gender:" in k for k in out)


def test_locked_folder_refused(tmp_path, tiny_evalsets, minimal_checkpoint, capsys, lock_holder):
    """A second evaluation in a folder another process works in: one line, exit 2, folder untouched."""
    from harness.lock import LOCK_NAME

    out = tmp_path / "out"
    with lock_holder(out) as pid:
        assert main(["evaluate", f"checkpoint={minimal_checkpoint}", "suite=tiny",
                     f"data_root={tiny_evalsets}", f"out={out}", "only=[count]"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "in use by another selbench process" in err and f"pid {pid}" in err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]


def test_failed_evaluation_leaves_no_folder(tmp_path, tiny_evalsets):
    """An evaluation that fails before any result (a garbage checkpoint) removes the folder it made."""
    ckpt = tmp_path / "garbage.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(SelbenchError, match="garbage.pt"):
        evaluate(ckpt, "tiny", tiny_evalsets, tmp_path / "out", tasks=["count"], model="selbench-minimal")
    assert not (tmp_path / "out").exists()
