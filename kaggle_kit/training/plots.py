"""The run's figures (matplotlib, Agg back end: no display needed), each written atomically as a PNG.

Example:

    plot_confusion(np.eye(10, dtype=int) * 5, list(range(10)), "plots/confusion.png")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kaggle_kit.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return Path(path)


def plot_curves(histories: dict[int, dict[str, list[float]]], path: str | Path, monitor: str = "val_accuracy") -> Path:
    """Loss, accuracy and learning rate per epoch, one line per fold (dashed = validation)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (fold, h) in enumerate(sorted(histories.items())):
        c = colors[j % len(colors)]
        epochs = np.asarray(h.get("epoch", range(1, len(h.get("loss", [])) + 1)))
        for ax, key in ((axes[0], "loss"), (axes[1], "accuracy")):
            if key in h:
                ax.plot(epochs, h[key], color=c, label=f"fold {fold} train")
            if f"val_{key}" in h:
                ax.plot(epochs, h[f"val_{key}"], color=c, linestyle="--", label=f"fold {fold} val")
        if "lr" in h:
            axes[2].plot(epochs, h["lr"], color=c, label=f"fold {fold}")
    for ax, title in zip(axes, ("loss", "accuracy", "learning rate")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[2].set_yscale("log")
    if histories:
        axes[0].legend(fontsize=7)
    fig.suptitle(f"training curves (best checkpoint by {monitor})")
    return _save(fig, path)


def plot_confusion(cm: np.ndarray, classes: list, path: str | Path, title: str = "confusion matrix (OOF)") -> Path:
    """Confusion-matrix heat map with counts."""
    plt = _plt()
    cm = np.asarray(cm)
    k = len(classes)
    size = max(4.0, 0.5 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=90 if k > 12 else 0)
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 30:
        thresh = cm.max() / 2 if cm.size else 0
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if cm[i, j] > thresh else "black")
    return _save(fig, path)


def plot_per_class(overall: dict[str, float | None], classes: list, path: str | Path,
                   folds: dict[int, dict[str, float | None]] | None = None,
                   holdout: dict[str, float | None] | None = None, holdout_name: str = "hold-out") -> Path:
    """Per-class accuracy: bars for the OOF total (and the extra hold-out), one dot per fold."""
    plt = _plt()
    names = [str(c) for c in classes]
    k = len(names)

    def arr(values):
        return np.array([np.nan if values.get(n) is None else values[n] for n in names], float)

    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * k + 2), 4))
    bars = [("OOF (all folds)", arr(overall))] + ([(holdout_name, arr(holdout))] if holdout else [])
    width = 0.8 / len(bars)
    lows = [1.0]
    for j, (label, v) in enumerate(bars):
        x = np.arange(k) + (j - (len(bars) - 1) / 2) * width
        ax.bar(x, np.nan_to_num(v), width=width, label=label, alpha=0.85)
        lows.append(np.nanmin(v) if np.isfinite(v).any() else 1.0)
    for i, (_, values) in enumerate(sorted((folds or {}).items())):
        v = arr(values)
        ax.scatter(np.arange(k) - 0.4 * (len(bars) > 1) * width, v, s=10, color="black", zorder=3,
                   label="per fold" if i == 0 else None)
        lows.append(np.nanmin(v) if np.isfinite(v).any() else 1.0)
    ax.set_xticks(range(k), names, rotation=90 if k > 20 else 0)
    ax.set_ylim(max(0.0, min(lows) - 0.05), 1.005)
    ax.set_xlabel("class")
    ax.set_ylabel("accuracy")
    ax.set_title("per-class accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_misclassified(images: np.ndarray, y_true: np.ndarray, probs: np.ndarray, classes: list, path: str | Path,
                       n: int = 36) -> Path:
    """Gallery of the most confidently wrong predictions: `true -> predicted (p)`."""
    plt = _plt()
    y_pred = np.argmax(probs, axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    wrong = wrong[np.argsort(-probs[wrong, y_pred[wrong]])][:n]
    cols = 6
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.8), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        img = images[i]
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray_r" if img.shape[-1] == 1 else None)
        ax.set_title(f"{classes[y_true[i]]} -> {classes[y_pred[i]]} ({probs[i, y_pred[i]]:.2f})", fontsize=8)
    if len(wrong) == 0:
        axes[0, 0].text(0, 0.5, "no misclassified samples", fontsize=10)
    fig.suptitle("most confident mistakes (true -> predicted)", fontsize=10)
    return _save(fig, path)
