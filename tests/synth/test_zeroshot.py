import numpy as np
import pytest

from harness.synth.zeroshot import acc1, classify, mean_per_class_recall, mean_recall_at_1


def test_classification_metrics_by_hand():
    labels = np.array([0, 0, 0, 1])
    pred = np.array([0, 1, 1, 1])
    assert acc1(pred, labels) == pytest.approx(0.5)
    assert mean_per_class_recall(pred, labels) == pytest.approx((1 / 3 + 1) / 2)


def test_classify_takes_the_most_similar_class():
    img = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    cls = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert list(classify(img, cls)) == [1, 0, 0]


def test_mean_recall_at_1_by_hand():
    img = np.eye(2)
    # captions 0,1 belong to image 0; caption 2 to image 1
    txt = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    owner = np.array([0, 0, 1])
    # image retrieval: caption0->img0 ok, caption1->img1 wrong, caption2->img1 ok: 2/3
    # text retrieval: img0 -> caption0 (own), img1 -> caption1 (argmax first of ties; owner 0): 1/2
    assert mean_recall_at_1(img, txt, owner) == pytest.approx(0.5 * (2 / 3 + 1 / 2))
