"""DataComp's metrics on small hand-made predictions, values computed by hand."""
import numpy as np
import pytest

from harness.evaluate import metrics as M

# 4 samples, 6 classes; labels 0, 1, 2, 2
LOGITS = np.array([
    [9, 1, 2, 3, 4, 5],    # label 0: top-1 hit
    [9, 8, 7, 6, 5, 4],    # label 1: rank 2
    [0, 1, 2, 3, 4, 5],    # label 2: rank 4
    [5, 4, 3, 2, 1, 0],    # label 2: rank 3
], dtype=float)
TARGET = np.array([0, 1, 2, 2])


def test_topk_accuracy():
    assert M.accuracy(LOGITS, TARGET, 1) == 0.25
    assert M.accuracy(LOGITS, TARGET, 2) == 0.5
    assert M.accuracy(LOGITS, TARGET, 5) == 1.0
    assert M.topk_predictions(LOGITS, 2).tolist() == [[0, 5], [0, 1], [5, 4], [0, 1]]


def test_mean_per_class_recall_averages_over_true_classes():
    pred = np.array([0, 0, 2, 1])           # class 0: 1/1, class 1: 0/1, class 2: 1/2
    assert M.mean_per_class_recall(pred, TARGET) == pytest.approx((1 + 0 + 0.5) / 3)
    out = M.classification_metrics(LOGITS, TARGET)
    assert out == {"acc1": 0.25, "acc5": 1.0, "mean_per_class_recall": pytest.approx(1 / 3)}
    assert M.classification_metrics(LOGITS[:, :4], TARGET)["acc5"] is None   # < 5 classes


def test_mean_recall_at_1():
    assert M.mean_recall_at_1(0.5, 0.25) == 0.375


def test_winogavil_pick_and_jaccard():
    sims = [0.1, 0.9, 0.5, 0.7, 0.2]
    picked = M.winogavil_pick(sims, 2)
    assert picked.tolist() == [False, True, False, True, False]
    truth = [False, True, True, False, False]
    assert M.jaccard(truth, picked) == pytest.approx(1 / 3)     # {1} / {1, 2, 3}
    assert M.jaccard(truth, truth) == 1.0


def test_winogavil_buckets():
    scores = [1.0, 0.5, 0.2, 0.4, 0.0]
    sizes = [5, 6, 10, 12, 12]
    out = M.winogavil_metrics(scores, sizes)
    assert out["jaccard_score_10-12"] == pytest.approx((0.2 + 0.4 + 0.0) / 3)
    assert out["jaccard_score_5-6"] == pytest.approx(0.75)
    assert out["jaccard_score_12"] == pytest.approx(0.2)
    assert out["avg_jaccard_score"] == pytest.approx(2.1 / 5)
    assert M.winogavil_metrics([0.3], [5])["jaccard_score_10-12"] is None


def test_fmow_worst_region_skips_other_and_empty():
    pred = np.array([1, 1, 0, 0, 1, 1, 2, 2])
    target = np.array([1, 0, 0, 0, 1, 0, 0, 2])
    region = np.array(["Asia", "Asia", "Europe", "Europe", "Africa", "Other", "Other", "Africa"])
    year = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    out = M.fmow_metrics(pred, target, region, year)
    # Asia 1/2, Europe 2/2, Africa 2/2, Other 0/2 (excluded)
    assert out["acc_worst_region"] == 0.5
    assert out["acc_region:Other"] == 0.0
    assert out["acc_avg"] == pytest.approx(5 / 8)
    assert out["acc_worst_year"] == pytest.approx(3 / 5)        # year 0: 2/3, year 1: 3/5
    ints = M.fmow_metrics(pred, target, np.array([0, 0, 1, 1, 2, 5, 5, 2]), year)
    assert ints["acc_worst_region"] == 0.0                      # index 5 has no name: counted


def test_dollar_street_worst_income_group_top5():
    top5 = np.array([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [9, 8, 7, 6, 5], [1, 2, 3, 4, 5]])
    target = np.array([3, 1, 5, 1])
    income = np.array([0, 0, 1, 1])
    out = M.dollar_street_metrics(top5, target, income)
    assert out["acc_top5_avg"] == 0.75
    assert out["acc_top5_income_ds:0"] == 0.5 and out["acc_top5_income_ds:1"] == 1.0
    assert out["acc_top5_wg"] == 0.5


def test_geode_worst_region():
    pred = np.array([0, 1, 1, 2, 2, 2])
    target = np.array([0, 1, 0, 2, 2, 0])
    region = np.array([3, 3, 1, 1, 0, 0])
    out = M.geode_metrics(pred, target, region)
    assert out["acc_wg"] == 0.5 and out["acc_region:3"] == 1.0
    assert out["acc_avg"] == pytest.approx(4 / 6)


def test_iwildcam_macro_f1_over_true_classes():
    pred = np.array([0, 0, 1, 1, 2, 3])
    target = np.array([0, 1, 1, 1, 2, 2])
    # class 0: P=1/2 R=1 F1=2/3; class 1: P=1 R=2/3 F1=0.8; class 2: P=1 R=1/2 F1=2/3
    # class 3 is predicted but never true: not in the macro average
    out = M.iwildcam_metrics(pred, target)
    assert out["F1-macro_all"] == pytest.approx((2 / 3 + 0.8 + 2 / 3) / 3)
    assert out["recall-macro_all"] == pytest.approx((1 + 2 / 3 + 0.5) / 3)
    assert out["acc_avg"] == pytest.approx(4 / 6)


def test_camelyon17_worst_slide():
    pred = np.array([1, 0, 1, 1, 0, 0, 1])
    target = np.array([1, 0, 0, 1, 0, 1, 1])
    slide = np.array([2, 2, 2, 7, 7, 9, 9])
    out = M.camelyon17_metrics(pred, target, slide)
    # slide 2: 2/3, slide 7: 2/2, slide 9: 1/2
    assert out["acc_slide:2"] == pytest.approx(2 / 3) and out["acc_slide:7"] == 1.0
    assert out["acc_wg"] == 0.5 and out["acc_avg"] == pytest.approx(5 / 7)


def test_datacomps_scikit_learn_calls_are_the_ones_made(monkeypatch):
    # DataComp computes mean_per_class_recall with balanced_accuracy_score and WinoGAViL's
    # score with jaccard_score: selbench makes the same calls
    import sklearn.metrics

    calls = []
    real_bal, real_jac = sklearn.metrics.balanced_accuracy_score, sklearn.metrics.jaccard_score
    monkeypatch.setattr(sklearn.metrics, "balanced_accuracy_score",
                        lambda *a, **k: calls.append("balanced") or real_bal(*a, **k))
    monkeypatch.setattr(sklearn.metrics, "jaccard_score",
                        lambda *a, **k: calls.append("jaccard") or real_jac(*a, **k))
    pred = np.array([0, 0, 2, 1, 5])               # class 5 is predicted, never true
    target = np.array([0, 1, 2, 2, 2])
    assert M.mean_per_class_recall(pred, target) == pytest.approx((1 + 0 + 1 / 3) / 3)
    assert M.jaccard([True, False, False], [False, False, False]) == 0.0
    assert calls == ["balanced", "jaccard"]


def test_class_group_metrics_by_hand():
    # classes 0, 1 are 'head', 2 is 'tail'; samples: labels 0, 1, 2, 2, predictions 0, 0, 2, 1
    out = M.class_group_metrics(np.array([0, 0, 2, 1]), np.array([0, 1, 2, 2]),
                                np.array(["head", "head", "tail"], dtype=object))
    assert out == {"acc_frequency:head": 0.5, "acc_frequency:tail": 0.5}
    out = M.class_group_metrics(np.array([2, 2]), np.array([2, 2]), np.array(["head", "head", "tail"], dtype=object))
    assert out == {"acc_frequency:tail": 1.0}  # groups without test samples are not reported
