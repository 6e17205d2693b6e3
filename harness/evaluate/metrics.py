"""The metrics DataComp reports, computed from predictions with numpy (and scikit-learn).

Definitions follow mlfoundations/datacomp's ``eval_utils`` (wds_eval.py, retr_eval.py,
wino_eval.py, wilds_eval.py, fairness_eval.py), which use clip_benchmark and the WILDS metric
classes; they are restated here:

- acc1 / acc5: fraction of samples whose label is among the k highest logits
  (clip_benchmark ``accuracy``); DataComp reports acc5 = None for fewer than 5 classes.
- mean_per_class_recall: mean over the classes present in the labels of each class's recall
  (scikit-learn ``balanced_accuracy_score``).
- mean_recall@1 = 0.5 x (text_retrieval_recall@1 + image_retrieval_recall@1).
- WinoGAViL: per example the model picks as many candidates as there are true associations
  (the highest cue-image similarities); score = Jaccard index of picked vs true sets;
  jaccard_score_10-12 = mean over examples with >= 10 candidates (5-6: <= 6).
- WILDS-style group metrics: a per-sample metric averaged within each group of a metadata
  field; groups with no samples are skipped; "worst group" (``_wg``) = the minimum.
  acc_worst_region (FMoW) = worst region's accuracy, region "Other" excluded when regions
  are named; acc_top5_wg (Dollar Street) = worst income group's top-5 accuracy;
  acc_wg (GeoDE) = worst region's accuracy.
- F1-macro_all (iWildCam) = macro F1 over the classes present in the labels
  (WILDS ``F1(average="macro")`` passes ``labels=unique(y_true)`` to scikit-learn).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def topk_predictions(logits: np.ndarray, k: int) -> np.ndarray:
    """(N, k) class indices of the k highest logits per row, best first (ties: lower index)."""
    logits = np.asarray(logits)
    return np.argsort(-logits, axis=1, kind="stable")[:, :k]


def topk_correct(logits: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """Boolean per sample: is the label among the top-k logits."""
    return (topk_predictions(logits, k) == np.asarray(target)[:, None]).any(axis=1)


def accuracy(logits: np.ndarray, target: np.ndarray, k: int = 1) -> float:
    """Top-k accuracy of ``logits`` (N, C) against integer ``target`` (N,)."""
    return float(topk_correct(logits, target, k).mean())


def mean_per_class_recall(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over the classes present in ``target`` of the fraction predicted correctly:
    scikit-learn's ``balanced_accuracy_score(target, pred)``, the call DataComp makes."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": they are left out
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(np.asarray(target), np.asarray(pred)))


def classification_metrics(logits: np.ndarray, target: np.ndarray) -> dict:
    """acc1, acc5 (None under 5 classes) and mean_per_class_recall, as DataComp reports them."""
    logits, target = np.asarray(logits), np.asarray(target)
    return {"acc1": accuracy(logits, target, 1),
            "acc5": accuracy(logits, target, 5) if logits.shape[1] >= 5 else None,
            "mean_per_class_recall": mean_per_class_recall(logits.argmax(axis=1), target)}


def mean_recall_at_1(text_recall_1: float, image_recall_1: float) -> float:
    """DataComp's retrieval main metric: 0.5 x (text R@1 + image R@1)."""
    return 0.5 * (float(text_recall_1) + float(image_recall_1))


def jaccard(y_true: Sequence[bool], y_pred: Sequence[bool]) -> float:
    """|true ∩ predicted| / |true ∪ predicted| for boolean membership vectors (0 if both empty):
    scikit-learn's ``jaccard_score(y_true, y_pred)``, the call DataComp's WinoGAViL code makes."""
    from sklearn.metrics import jaccard_score

    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    return float(jaccard_score(t, p, zero_division=0))


def winogavil_pick(similarities: Sequence[float], n_associations: int) -> np.ndarray:
    """Boolean vector marking the ``n_associations`` candidates most similar to the cue."""
    sims = np.asarray(similarities, dtype=np.float64)
    chosen = np.zeros(len(sims), bool)
    if n_associations > 0:
        chosen[np.argsort(sims, kind="stable")[len(sims) - n_associations:]] = True
    return chosen


def winogavil_metrics(scores: Sequence[float], num_candidates: Sequence[int]) -> dict:
    """DataComp's WinoGAViL metrics from per-example Jaccard ``scores`` and candidate counts.

    Buckets with no example give None (DataComp's numpy mean would give NaN).
    """
    s, n = np.asarray(scores, dtype=np.float64), np.asarray(num_candidates)
    buckets = {"avg_jaccard_score": np.ones(len(s), bool), "jaccard_score_5": n == 5,
               "jaccard_score_6": n == 6, "jaccard_score_10": n == 10, "jaccard_score_12": n == 12,
               "jaccard_score_5-6": n <= 6, "jaccard_score_10-12": n >= 10}
    return {name: (float(s[mask].mean()) if mask.any() else None) for name, mask in buckets.items()}


def group_means(values: np.ndarray, groups: Sequence) -> dict:
    """``{group: mean of values}`` over the groups that occur, in sorted group order."""
    values, groups = np.asarray(values, dtype=np.float64), np.asarray(groups)
    return {g.item() if hasattr(g, "item") else g: float(values[groups == g].mean())
            for g in np.unique(groups)}


def worst_group(values: np.ndarray, groups: Sequence, exclude: Iterable = ()) -> float:
    """Minimum over non-empty groups (those in ``exclude`` left out) of the group mean."""
    skip = set(exclude)
    means = [m for g, m in group_means(values, groups).items() if g not in skip]
    if not means:
        raise ValueError("no group left to take the worst of")
    return min(means)


def grouped_metrics(name: str, values: np.ndarray, groups: Sequence, field: str,
                    exclude: Iterable = ()) -> dict:
    """``{name}_avg``, per-group ``{name}_{field}:{g}`` and ``{name}_wg`` (WILDS naming)."""
    out = {f"{name}_avg": float(np.mean(values))}
    for g, m in group_means(values, groups).items():
        out[f"{name}_{field}:{g}"] = m
    out[f"{name}_wg"] = worst_group(values, groups, exclude)
    return out


def fmow_metrics(pred: np.ndarray, target: np.ndarray, region: Sequence, year: Sequence,
                 exclude_regions: Iterable = ("Other",)) -> dict:
    """FMoW: acc_avg, per-year and acc_worst_year, per-region and acc_worst_region."""
    correct = (np.asarray(pred) == np.asarray(target)).astype(np.float64)
    out = grouped_metrics("acc", correct, year, "year")
    out["acc_worst_year"] = out.pop("acc_wg")
    for g, m in group_means(correct, region).items():
        out[f"acc_region:{g}"] = m
    out["acc_worst_region"] = worst_group(correct, region, exclude_regions)
    return out


def dollar_street_metrics(top5: np.ndarray, target: np.ndarray, income_group: Sequence) -> dict:
    """Dollar Street: top-5 accuracy overall (acc_top5_avg), per income group, worst (acc_top5_wg)."""
    hit = (np.asarray(top5) == np.asarray(target)[:, None]).any(axis=1).astype(np.float64)
    return grouped_metrics("acc_top5", hit, income_group, "income_ds")


def class_group_metrics(pred: np.ndarray, target: np.ndarray, class_group: np.ndarray) -> dict:
    """Accuracy over the test samples of each group of classes, ``acc_frequency:{group}``
    (e.g. the pool's head, mid and tail concepts); ``class_group[c]`` is class c's group."""
    correct = (np.asarray(pred) == np.asarray(target)).astype(np.float64)
    groups = np.asarray(class_group, dtype=object)[np.asarray(target)]
    return {f"acc_frequency:{g}": m for g, m in group_means(correct, groups).items()}


def geode_metrics(pred: np.ndarray, target: np.ndarray, region: Sequence) -> dict:
    """GeoDE: accuracy overall (acc_avg), per region, worst region (acc_wg)."""
    correct = (np.asarray(pred) == np.asarray(target)).astype(np.float64)
    return grouped_metrics("acc", correct, region, "region")


def camelyon17_metrics(pred: np.ndarray, target: np.ndarray, slide: Sequence) -> dict:
    """Camelyon17: accuracy overall (acc_avg), per slide, worst slide (acc_wg)."""
    correct = (np.asarray(pred) == np.asarray(target)).astype(np.float64)
    return grouped_metrics("acc", correct, slide, "slide")


def iwildcam_metrics(pred: np.ndarray, target: np.ndarray) -> dict:
    """iWildCam: acc_avg, recall-macro_all and F1-macro_all over the classes in ``target``."""
    from sklearn.metrics import f1_score, recall_score

    pred, target = np.asarray(pred), np.asarray(target)
    labels = np.unique(target)
    return {"acc_avg": float((pred == target).mean()),
            "recall-macro_all": float(recall_score(target, pred, average="macro", labels=labels,
                                                   zero_division=0)),
            "F1-macro_all": float(f1_score(target, pred, average="macro", labels=labels,
                                           zero_division=0))}
