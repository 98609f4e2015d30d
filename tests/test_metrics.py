from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from autogets.metrics import compare, compute_metrics, confusion, metrics_from_confusion, oba_from_accuracy

# Rows = true class, columns = predicted. Hand-computed below for class "a":
#   TP = 5, FN = 1 + 0 = 1, FP = 2 + 1 = 3, TN = 20 - 5 - 1 - 3 = 11
#   sens = 5/6, spec = 11/14, CBA = (5/6 + 11/14)/2, precision = 5/8
MATRIX = np.array([[5, 1, 0],
                   [2, 6, 1],
                   [1, 0, 4]])


def test_per_class_metrics_from_hand_computed_matrix():
    m = metrics_from_confusion(MATRIX, ["a", "b", "c"])
    a = m.of("a")
    assert a["sensitivity"] == pytest.approx(5 / 6)
    assert a["specificity"] == pytest.approx(11 / 14)
    assert a["cba"] == pytest.approx((5 / 6 + 11 / 14) / 2)
    assert a["precision"] == pytest.approx(5 / 8)
    assert a["f1"] == pytest.approx(2 * (5 / 8) * (5 / 6) / (5 / 8 + 5 / 6))
    assert a["support"] == 6
    # class c: TP 4, FN 1, FP 1, TN 14
    assert m.of("c")["specificity"] == pytest.approx(14 / 15)
    assert m.accuracy == pytest.approx(15 / 20)


def test_overall_oba_is_mean_of_micro_sensitivity_and_specificity():
    m = metrics_from_confusion(MATRIX, ["a", "b", "c"])
    # micro specificity = ΣTN / (ΣTN + ΣFP) over the three one-vs-rest matrices
    tn = sum(20 - MATRIX[i, i] - (MATRIX[i].sum() - MATRIX[i, i]) - (MATRIX[:, i].sum() - MATRIX[i, i])
             for i in range(3))
    fp = MATRIX.sum() - np.trace(MATRIX)
    assert m.oba == pytest.approx((15 / 20 + tn / (tn + fp)) / 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 6, 15])
def test_oba_equals_affine_function_of_accuracy(seed, k):
    rng = np.random.default_rng(seed)
    yt, yp = rng.integers(0, k, 500), rng.integers(0, k, 500)
    m = compute_metrics(yt, yp, [str(i) for i in range(k)])
    assert m.oba == pytest.approx(oba_from_accuracy(m.accuracy, k))


def test_paper_identity_example():
    assert oba_from_accuracy(0.816, 6) == pytest.approx(0.8896, abs=1e-4)
    assert oba_from_accuracy(0.847187, 15) == pytest.approx(0.918136, abs=1e-6)


def test_agrees_with_sklearn_on_string_labels():
    rng = np.random.default_rng(3)
    classes = ["x", "y", "z", "w"]
    yt = rng.choice(classes, 300)
    yp = np.where(rng.random(300) < 0.7, yt, rng.choice(classes, 300))
    m = compute_metrics(yt, yp, classes)
    assert np.allclose(m.recall, recall_score(yt, yp, labels=classes, average=None))
    assert np.allclose(m.precision, precision_score(yt, yp, labels=classes, average=None))
    assert np.allclose(m.f1, f1_score(yt, yp, labels=classes, average=None))
    assert m.macro_f1 == pytest.approx(f1_score(yt, yp, labels=classes, average="macro"))


def test_unknown_label_and_bad_matrix():
    with pytest.raises(ValueError, match="'q' is not one of"):
        compute_metrics(["a"], ["q"], ["a", "b"])
    with pytest.raises(ValueError, match="does not fit"):
        metrics_from_confusion(np.zeros((2, 3)), ["a", "b"])


def test_confusion_and_compare():
    assert confusion(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist() == [[1, 0], [1, 1]]
    before = metrics_from_confusion(MATRIX, ["a", "b", "c"])
    better = MATRIX.copy()
    better[0] = [6, 0, 0]
    after = metrics_from_confusion(better, ["a", "b", "c"])
    diff = compare(before, after)
    assert diff.loc["a", "delta_recall"] == pytest.approx(1 / 6)
    assert diff.loc["c", "delta_recall"] == pytest.approx(0.0)
    assert after.value("overall_f1") == after.accuracy
    assert after.value("cba", "a") == after.of("a")["cba"]


def test_the_gain_interval_resamples_within_each_class():
    """Issue 23 item 6: one positive example that the new model gets right (a true gain of +0.5 on it) is +0.5 in
    every resample; resampling without strata put a 0 in ~37 % of them (no positive drawn: both models score 0)."""
    from autogets.metrics import cba_gain_interval

    y = np.array(["a"] + ["b"] * 99)
    before = np.array(["b"] * 100)
    after = np.array(["a"] + ["b"] * 99)
    assert cba_gain_interval(y, before, after, "a") == (0.5, 0.5)
    # no change gives a zero-width interval at 0; a real mixture gives a proper interval around the point gain
    assert cba_gain_interval(y, before, before, "a") == (0.0, 0.0)
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], size=600)
    before = np.where(rng.random(600) < 0.8, y, "c")
    after = np.where(rng.random(600) < 0.9, y, "c")
    from autogets.metrics import compute_metrics

    point = compute_metrics(y, after, ("a", "b", "c")).value("cba", "a") - compute_metrics(
        y, before, ("a", "b", "c")).value("cba", "a")
    lo, hi = cba_gain_interval(y, before, after, "a")
    assert lo < point < hi and hi - lo < 0.2


def test_the_gain_interval_of_a_large_test_needs_little_memory():
    import tracemalloc

    from autogets.metrics import cba_gain_interval

    rng = np.random.default_rng(0)
    y = rng.choice(["a", "b"], size=100_000)
    before, after = np.where(rng.random(100_000) < 0.9, y, "b"), np.where(rng.random(100_000) < 0.92, y, "b")
    tracemalloc.start()
    cba_gain_interval(y, before, after, "a")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20  # resampling rows allocated n_boot × n float64 + an int64 copy: 3.2 GB here
