"""Small numpy zero-shot metrics for the teacher's scores in pool.json
(acc1, mean per-class recall, and retrieval mean_recall@1 as clip_benchmark defines them)."""
from __future__ import annotations

import numpy as np


def classify(image_emb: np.ndarray, class_emb: np.ndarray) -> np.ndarray:
    """Predicted class per image: argmax of image . class similarity."""
    return np.argmax(image_emb @ class_emb.T, axis=1)


def acc1(pred: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy."""
    return float(np.mean(np.asarray(pred) == np.asarray(labels)))


def mean_per_class_recall(pred: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present in ``labels`` of the fraction predicted right."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    return float(np.mean([np.mean(pred[labels == c] == c) for c in np.unique(labels)]))


def mean_recall_at_1(image_emb: np.ndarray, text_emb: np.ndarray, text_owner: np.ndarray) -> float:
    """0.5 * (image retrieval R@1 + text retrieval R@1).

    ``text_owner[j]`` is the image of caption ``j``. Image retrieval: a caption's top image
    is its own. Text retrieval: an image's top caption is one of its own.
    """
    sim = text_emb @ image_emb.T                       # (texts, images)
    image_r1 = np.mean(np.argmax(sim, axis=1) == text_owner)
    text_r1 = np.mean(text_owner[np.argmax(sim, axis=0)] == np.arange(image_emb.shape[0]))
    return float(0.5 * (image_r1 + text_r1))


def score(metric: str, pred: np.ndarray, labels: np.ndarray) -> float:
    """``acc1`` or ``mean_per_class_recall`` of predictions."""
    if metric == "acc1":
        return acc1(pred, labels)
    if metric == "mean_per_class_recall":
        return mean_per_class_recall(pred, labels)
    raise ValueError(f"unknown classification metric {metric!r}")
