"""Classification metrics of predicted probabilities: accuracy, per-class accuracy, confusion matrix, report.

All functions take class indices `y_true (N,)` and probabilities `probs (N, K)`; `classes` are the
competition's original label values, used only to name things in the output (JSON-friendly).

Example:
    >>> m = classification_metrics(np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.6, .4]]), classes=[0, 1])
    >>> m["accuracy"], m["per_class_accuracy"]
    (0.6666666666666666, {'0': 1.0, '1': 0.5})
"""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Share of rows whose highest-probability class is the true one."""
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean(np.argmax(probs, axis=1) == y_true))


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Recall of each class (NaN for a class with no rows)."""
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mask = y_true == c
        if mask.any():
            out[c] = float(np.mean(y_pred[mask] == c))
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrix: rows = true class, columns = predicted class."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(num_classes)))


def _nan_to_none(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: list) -> dict:
    """Accuracy, log loss, per-class accuracy, confusion matrix and scikit-learn's classification report."""
    from sklearn.metrics import classification_report, log_loss

    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs):  # float32 softmax rows sum to 1 only within ~1e-7; log_loss wants them exact
        probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
    k = len(classes)
    names = [str(c) for c in classes]
    y_pred = np.argmax(probs, axis=1) if len(probs) else np.zeros(0, np.int64)
    pca = per_class_accuracy(y_true, y_pred, k)
    try:
        ll = float(log_loss(y_true, probs, labels=list(range(k))))
    except ValueError:
        ll = None
    report = classification_report(y_true, y_pred, labels=list(range(k)), target_names=names, output_dict=True,
                                   zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": accuracy(y_true, probs),
        "log_loss": ll,
        "per_class_accuracy": {n: _nan_to_none(v) for n, v in zip(names, pca)},
        "confusion_matrix": confusion(y_true, y_pred, k).tolist(),
        "classification_report": report,
    }


def classification_report_text(y_true: np.ndarray, probs: np.ndarray, classes: list) -> str:
    """The printable scikit-learn report."""
    from sklearn.metrics import classification_report

    k = len(classes)
    return classification_report(np.asarray(y_true), np.argmax(probs, axis=1), labels=list(range(k)),
                                 target_names=[str(c) for c in classes], digits=4, zero_division=0)
