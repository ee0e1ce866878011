"""`kaggle_kit.training.metrics` against hand-computed cases and scikit-learn as an independent reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, recall_score

from kaggle_kit.training.metrics import (
    accuracy,
    classification_metrics,
    classification_report_text,
    confusion,
    per_class_accuracy,
)

# 3 classes, 7 rows; hand-computed: true 0 -> [0, 0, 1], true 1 -> [1, 2], true 2 -> [2, 0]
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 0])
CM_BY_HAND = [[2, 1, 0],   # rows: true class, columns: predicted class
              [0, 1, 1],
              [1, 0, 1]]


def _one_hot_probs(pred: np.ndarray, k: int, sure: float = 0.7) -> np.ndarray:
    probs = np.full((len(pred), k), (1 - sure) / (k - 1))
    probs[np.arange(len(pred)), pred] = sure
    return probs


def _random_case(seed: int, n: int = 300, k: int = 10):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += rng.uniform(0, 3, n)  # better than chance, not perfect, uneven per class
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, probs


def test_confusion_small_case_by_hand():
    cm = confusion(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == CM_BY_HAND
    # the orientation matters: rows are true classes (row sums = class counts)
    assert cm.sum(axis=1).tolist() == [3, 2, 2]
    assert cm.sum(axis=0).tolist() == [3, 2, 2]  # predicted counts


def test_confusion_is_not_symmetric_in_true_and_pred():
    cm = confusion(np.array([0, 0, 0]), np.array([1, 1, 1]), 2)
    assert cm.tolist() == [[0, 3], [0, 0]]  # transposed would be [[0, 0], [3, 0]]


def test_confusion_keeps_empty_classes():
    cm = confusion(np.array([0, 1]), np.array([0, 1]), 4)
    assert cm.shape == (4, 4) and cm.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_per_class_accuracy_small_case_by_hand():
    pca = per_class_accuracy(Y_TRUE, Y_PRED, 4)
    assert pca[:3].tolist() == pytest.approx([2 / 3, 1 / 2, 1 / 2])
    assert math.isnan(pca[3])  # no row of class 3


def test_per_class_accuracy_all_wrong_is_zero():
    assert per_class_accuracy(np.array([0, 1]), np.array([1, 0]), 2).tolist() == [0.0, 0.0]


def test_accuracy_by_hand_and_empty():
    probs = _one_hot_probs(Y_PRED, 3)
    assert accuracy(Y_TRUE, probs) == pytest.approx(4 / 7)
    assert math.isnan(accuracy(np.zeros(0, int), np.zeros((0, 3))))


def test_the_docstring_example():
    m = classification_metrics(np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.6, .4]]), classes=[0, 1])
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["per_class_accuracy"] == {"0": 1.0, "1": 0.5}
    assert m["confusion_matrix"] == [[1, 0], [1, 1]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_agree_with_scikit_learn(seed):
    y, probs = _random_case(seed)
    classes = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]  # label values name things; indices are what is scored
    m = classification_metrics(y, probs, classes)
    pred = probs.argmax(axis=1)
    labels = list(range(10))
    assert m["n"] == len(y)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["log_loss"] == pytest.approx(log_loss(y, probs, labels=labels), rel=1e-9)
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=labels).tolist()
    recalls = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    assert list(m["per_class_accuracy"]) == [str(c) for c in classes]
    assert list(m["per_class_accuracy"].values()) == pytest.approx(recalls.tolist())
    # per-class values differ from one another (a constant would not pass) and lie strictly inside (0, 1)
    assert len(set(np.round(recalls, 6))) > 3
    report = m["classification_report"]
    for c, r in zip(classes, recalls):
        assert report[str(c)]["recall"] == pytest.approx(r)
        assert report[str(c)]["support"] == int((y == classes.index(c)).sum())
    assert report["accuracy"] == pytest.approx(m["accuracy"])


def test_classification_metrics_missing_class_is_none_and_json_friendly():
    import json

    y = np.array([0, 0, 1, 1])
    probs = _one_hot_probs(np.array([0, 1, 1, 1]), 3)
    m = classification_metrics(y, probs, ["a", "b", "c"])
    assert m["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": None}
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    json.dumps(m)  # goes into metrics.json


def test_float32_rows_not_summing_to_one_still_give_a_log_loss():
    y, probs = _random_case(3, n=50)
    probs32 = (probs * 1.0001).astype(np.float32)  # rows sum to 1.0001
    m = classification_metrics(y, probs32, list(range(10)))
    assert m["log_loss"] == pytest.approx(log_loss(y, probs, labels=list(range(10))), rel=1e-4)


def test_report_text_names_the_classes():
    y, probs = _random_case(4, n=60, k=3)
    text = classification_report_text(y, probs, ["cat", "dog", "owl"])
    assert all(name in text for name in ("cat", "dog", "owl"))
    recall = recall_score(y, probs.argmax(axis=1), average=None)
    assert f"{recall[0]:.4f}" in text


def test_single_row_accuracy():
    assert accuracy(np.array([1]), np.array([[0.2, 0.8]])) == 1.0
    assert accuracy(np.array([0]), np.array([[0.2, 0.8]])) == 0.0


def test_log_loss_with_a_class_absent_from_the_truth_and_unnormalised_rows():
    y = np.array([0, 0, 1, 1])  # class 2 never true: log loss still defined over the 3 labels
    probs = np.array([[0.6, 0.2, 0.2], [0.5, 0.3, 0.2], [0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    m = classification_metrics(y, probs, [0, 1, 2])
    assert m["log_loss"] == pytest.approx(log_loss(y, probs, labels=[0, 1, 2]))
    half = classification_metrics(y, probs / 2, [0, 1, 2])  # rows summing to 0.5 are normalised first
    assert half["log_loss"] == pytest.approx(m["log_loss"])


def test_log_loss_is_none_when_undefined():
    m = classification_metrics(np.array([0, 1]), np.array([[np.nan, 0.5, 0.5], [0.2, 0.8, 0.0]]), [0, 1, 2])
    assert m["log_loss"] is None


def test_a_class_never_predicted_has_precision_zero():
    y = np.array([0, 1, 2, 2])
    probs = _one_hot_probs(np.array([0, 1, 1, 1]), 3)
    report = classification_metrics(y, probs, [0, 1, 2])["classification_report"]
    assert report["2"]["precision"] == 0.0 and report["2"]["recall"] == 0.0
    text = classification_report_text(y, probs, [0, 1, 2])
    row = next(line.split() for line in text.splitlines() if line.split()[:1] == ["2"])
    assert row == ["2", "0.0000", "0.0000", "0.0000", "2"]


def test_report_text_lists_a_class_with_no_rows_and_four_decimals():
    y = np.array([0, 0, 1, 1])
    probs = _one_hot_probs(np.array([0, 1, 1, 1]), 3)
    text = classification_report_text(y, probs, ["a", "b", "c"])
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()[:1] in (["a"], ["b"], ["c"])}
    assert rows["a"] == ["1.0000", "0.5000", "0.6667", "2"]
    assert rows["c"] == ["0.0000", "0.0000", "0.0000", "0"]
