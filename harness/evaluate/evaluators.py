"""How each kind of task is scored: one function per ``evaluator`` name of harness/conf/tasks/*.yaml.

Every evaluator takes ``(task, ctx)`` (``ctx``: model, tokenizer, transform, data_root,
device, batch_size, num_workers) and returns the task's metrics dict. Zero-shot
classification and retrieval go through clip_benchmark in process; amp is off on a CPU (bf16
autocast changes CPU results). On CUDA, as in DataComp: the class-prompt classifier and
retrieval use amp, the image pass of classification does not.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness.errors import SelbenchError
from harness.evaluate import datasets, metrics
from harness.registry import Registry

EVALUATORS: Registry[Callable] = Registry("evaluator")
evaluator = EVALUATORS.register


@dataclass
class Context:
    """What every evaluator needs: the model and its preprocessing, where data lives."""

    model: Any
    tokenizer: Any
    transform: Any
    data_root: Path
    device: str
    batch_size: int = 64
    num_workers: int = 0

    @property
    def amp(self) -> bool:
        return self.device == "cuda"


def _batches(task, ctx: Context, ds, captions: bool = False):
    return datasets.eval_batches(ds, task.data_dir(ctx.data_root), ctx.transform, ctx.batch_size,
                                 ctx.num_workers, captions)


def zero_shot_logits(task, ctx: Context, ds=None) -> tuple[np.ndarray, np.ndarray]:
    """Zero-shot classification logits (N, C) and labels (N,) via clip_benchmark, over ``ds``
    (``classification_set``; built here when not given)."""
    from clip_benchmark.metrics import zeroshot_classification as zsc

    ds = ds if ds is not None else classification_set(task, ctx)
    classifier = zsc.zero_shot_classifier(ctx.model, ctx.tokenizer, ds.classes, ds.templates,
                                          ctx.device, amp=ctx.amp)
    logits, target = zsc.run_classification(ctx.model, classifier,
                                            _batches(task, ctx, ds),
                                            ctx.device, amp=False)
    if len(target) == 0:
        raise SelbenchError(f"{task.data_dir(ctx.data_root)}: empty test split")
    return logits.numpy(), target.numpy()


def classification_set(task, ctx: Context):
    """The task's test split (``datasets.build``), checked to have class names and templates."""
    ds = datasets.build(task, ctx.data_root, ctx.transform)
    if not ds.classes or not ds.templates:
        raise SelbenchError(f"{task.data_dir(ctx.data_root)}: no class names or templates")
    return ds


def _metadata(task, ctx: Context, target: np.ndarray) -> np.ndarray:
    labels, meta = datasets.read_metadata(task.data_dir(ctx.data_root))
    if len(labels) != len(target) or not np.array_equal(labels, target):
        raise SelbenchError(f"{task.data_dir(ctx.data_root)}: metadata labels do not match the "
                            "classification pass (shards changed or unordered)")
    return meta


@evaluator("classification")
def classification(task, ctx: Context) -> dict:
    """acc1, acc5, mean_per_class_recall; with a ``class_frequency.json`` beside the task
    (the embedded pool writes one for its object tasks), the accuracy per frequency group."""
    ds = classification_set(task, ctx)
    # the optional group file is read before the pass, so a broken one stops it at once
    groups = datasets.read_class_frequency(task.data_dir(ctx.data_root), list(ds.classes))
    logits, target = zero_shot_logits(task, ctx, ds)
    out = metrics.classification_metrics(logits, target)
    if groups is not None:
        out.update(metrics.class_group_metrics(logits.argmax(axis=1), target, groups))
    return out


@evaluator("retrieval")
def retrieval(task, ctx: Context) -> dict:
    """clip_benchmark's image/text recall@{1,5,10} plus DataComp's mean_recall@1."""
    from clip_benchmark.metrics import zeroshot_retrieval as zsr

    ds = datasets.build(task, ctx.data_root, ctx.transform, retrieval=True)
    ks = [k for k in (1, 5, 10) if task.size is None or k <= task.size]
    out = zsr.evaluate(ctx.model, _batches(task, ctx, ds, captions=True),
                       ctx.tokenizer, ctx.device, amp=ctx.amp, recall_k_list=ks)
    out["mean_recall@1"] = metrics.mean_recall_at_1(out["text_retrieval_recall@1"],
                                                    out["image_retrieval_recall@1"])
    return out


# WILDS / fairness metadata fields, in DataComp's order (eval_utils/wilds_eval.py, fairness_eval.py)
IWILDCAM_FIELDS = ("location", "sequence", "year", "month", "day", "hour", "minute", "second", "y")
CAMELYON17_FIELDS = ("hospital", "slide", "y")
FMOW_FIELDS = ("region", "year", "y")
DOLLAR_STREET_FIELDS = ("income_ds", "income_meta", "region")
GEODE_FIELDS = ("region", "country")


@evaluator("iwildcam")
def iwildcam(task, ctx: Context) -> dict:
    """Classification metrics plus acc_avg, recall-macro_all, F1-macro_all."""
    logits, target = zero_shot_logits(task, ctx)
    return {**metrics.classification_metrics(logits, target),
            **metrics.iwildcam_metrics(logits.argmax(1), target)}


@evaluator("camelyon17")
def camelyon17(task, ctx: Context) -> dict:
    """Classification metrics plus accuracy per slide and worst slide."""
    logits, target = zero_shot_logits(task, ctx)
    meta = _metadata(task, ctx, target)
    slide = meta[:, CAMELYON17_FIELDS.index("slide")]
    return {**metrics.classification_metrics(logits, target),
            **metrics.camelyon17_metrics(logits.argmax(1), target, slide)}


@evaluator("fmow")
def fmow(task, ctx: Context) -> dict:
    """Classification metrics plus per-year / per-region accuracy and acc_worst_region.

    DataComp's code skips a region whose group name contains "Other"; its webdataset
    metadata holds region indices without names, so no index is excluded (only empty
    regions), and selbench does the same with the indices.
    """
    logits, target = zero_shot_logits(task, ctx)
    meta = _metadata(task, ctx, target)
    region = meta[:, FMOW_FIELDS.index("region")]
    year = meta[:, FMOW_FIELDS.index("year")]
    return {**metrics.classification_metrics(logits, target),
            **metrics.fmow_metrics(logits.argmax(1), target, region, year)}


@evaluator("dollar_street")
def dollar_street(task, ctx: Context) -> dict:
    """Classification metrics plus top-5 accuracy per income group and its worst (acc_top5_wg)."""
    logits, target = zero_shot_logits(task, ctx)
    meta = _metadata(task, ctx, target)
    income = meta[:, DOLLAR_STREET_FIELDS.index("income_ds")]
    top5 = metrics.topk_predictions(logits, 5)
    return {**metrics.classification_metrics(logits, target),
            **metrics.dollar_street_metrics(top5, target, income)}


@evaluator("geode")
def geode(task, ctx: Context) -> dict:
    """Classification metrics plus accuracy per region and its worst (acc_wg)."""
    logits, target = zero_shot_logits(task, ctx)
    meta = _metadata(task, ctx, target)
    region = meta[:, GEODE_FIELDS.index("region")]
    return {**metrics.classification_metrics(logits, target),
            **metrics.geode_metrics(logits.argmax(1), target, region)}


def winogavil_prompt(cue: str) -> str:
    """DataComp's WinoGAViL text: "A <cue>" or "An <cue>" (vowel), lower-cased cue."""
    cue = cue.lower()
    return f"An {cue}" if cue[:1] in "aeiou" and cue else f"A {cue}"


@evaluator("winogavil")
def winogavil(task, ctx: Context) -> dict:
    """Per example: pick as many images as true associations; Jaccard; DataComp's buckets."""
    import torch
    from tqdm import tqdm

    scores, sizes = [], []
    for cue, images, truth in tqdm(datasets.read_winogavil(task.data_dir(ctx.data_root)),
                                   desc=task.name, leave=False):
        batch = torch.stack([ctx.transform(im) for im in images]).to(ctx.device)
        text = ctx.tokenizer([winogavil_prompt(cue)]).to(ctx.device)
        with torch.no_grad(), torch.autocast(ctx.device, enabled=ctx.amp):
            img = ctx.model.encode_image(batch, normalize=True)
            txt = ctx.model.encode_text(text, normalize=True)
            sims = (txt @ img.T).squeeze(0).float().cpu().numpy()
        picked = metrics.winogavil_pick(sims, int(truth.sum()))
        scores.append(metrics.jaccard(truth, picked))
        sizes.append(len(images))
    if not scores:
        raise SelbenchError(f"{task.data_dir(ctx.data_root)}: empty test split")
    return metrics.winogavil_metrics(scores, sizes)


# FairFace / UTKFace (unscored): DataComp's eval_utils/fairness_eval.py
FAIRFACE_OBJECTIVES = ("race", "gender", "age", "toxic")
FAIRFACE_FIELDS = ("age", "gender", "race", "race_binary")


def _split_by_objective(items, what: str, task_dir: Path) -> dict[str, list[str]]:
    """``"objective:text"`` lines -> ``{objective: [text, ...]}`` (DataComp's multi-task format)."""
    out: dict[str, list[str]] = {o: [] for o in FAIRFACE_OBJECTIVES}
    for item in items:
        objective, _, text = item.partition(":")
        if objective not in out or not text:
            raise SelbenchError(f"{task_dir}: {what} line {item!r} is not '<objective>:<text>' "
                                f"with objective in {', '.join(FAIRFACE_OBJECTIVES)}")
        out[objective].append(text)
    return out


def _image_features(task_dir: Path, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Normalised image features and ``.npy`` metadata rows of the test split, in order."""
    import io

    import torch
    from PIL import Image

    feats, metas, batch = [], [], []

    def flush():
        with torch.no_grad():
            x = torch.stack(batch).to(ctx.device)
            feats.append(ctx.model.encode_image(x, normalize=True).float().cpu().numpy())
        batch.clear()

    for sample in datasets.raw_samples(task_dir):
        ext = next((e for e in ("webp", "png", "jpg", "jpeg") if e in sample), None)
        if ext is None or "npy" not in sample:
            raise SelbenchError(f"{task_dir}: sample {sample.get('__key__')} lacks an image or .npy")
        batch.append(ctx.transform(Image.open(io.BytesIO(sample[ext])).convert("RGB")))
        metas.append(np.load(io.BytesIO(sample["npy"]), allow_pickle=False).reshape(-1))
        if len(batch) == ctx.batch_size:
            flush()
    if batch:
        flush()
    if not metas:
        raise SelbenchError(f"{task_dir}: empty test split")
    return np.concatenate(feats), np.stack(metas)


@evaluator("fairface")
def fairface(task, ctx: Context) -> dict:
    """Race/gender/age accuracy by race_binary, gender by (race, gender), toxicity by race.

    As DataComp's FairFaceEvaluator: a zero-shot classifier per objective from the
    ``objective:`` prefixed class names and templates; race is scored as "non-white"
    (predicted race index != 1) against race_binary; toxicity_crime / toxicity_nonhuman are
    the fractions of images whose toxic-objective prediction is a crime (index >= 18) or
    non-human (14..17) class. Only non-empty groups are reported.
    """
    from clip_benchmark.metrics import zeroshot_classification as zsc

    task_dir = task.data_dir(ctx.data_root)
    ds = datasets.build(task, ctx.data_root, ctx.transform)
    classes = _split_by_objective(ds.classes, "classnames", task_dir)
    templates = _split_by_objective(ds.templates, "template", task_dir)
    feats, meta = _image_features(task_dir, ctx)
    pred = {}
    for objective in FAIRFACE_OBJECTIVES:
        clf = zsc.zero_shot_classifier(ctx.model, ctx.tokenizer, classes[objective],
                                       templates[objective], ctx.device, amp=ctx.amp)
        pred[objective] = (feats @ clf.float().cpu().numpy()).argmax(1)
    field = {f: meta[:, i] for i, f in enumerate(FAIRFACE_FIELDS)}
    out = metrics.grouped_metrics("acc_race", (pred["race"] != 1) == field["race_binary"],
                                  field["race_binary"], "race_binary")
    for label in ("gender", "age"):
        out.update(metrics.grouped_metrics(f"acc_{label}", pred[label] == field[label],
                                           field["race_binary"], "race_binary"))
    race_gender = [f"{r}_gender:{g}" for r, g in zip(field["race"], field["gender"])]
    out.update(metrics.grouped_metrics("acc_gender_x", pred["gender"] == field["gender"],
                                       race_gender, "race"))
    toxic = pred["toxic"]
    out.update(metrics.grouped_metrics("toxicity_crime", toxic >= 18, field["race"], "race"))
    out.update(metrics.grouped_metrics("toxicity_nonhuman", (toxic >= 14) & (toxic < 18),
                                       field["race"], "race"))
    return out
