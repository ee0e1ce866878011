"""What a fold and a run produce: `FoldResult`, `RunResult`, and the fold outputs every fold trainer writes.

Every fold trainer (Keras, scikit-learn) ends with `write_fold_outputs`, so a fold folder looks the same
whatever trained it: `oof.npy`, `oof_rows.npy`, `holdout.npy`, `metrics.json`, then `done.json` last (the
fold's completion mark). `history.csv` is the per-epoch log, written while a Keras fold trains.

Example:
    >>> FoldResult.from_metrics(0, {"accuracy": 0.99}, FoldStatus.SKIPPED).status.value
    'skipped'
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from kaggle_kit.io import atomic_path, atomic_write_json, sha256_file
from kaggle_kit.training import runs
from kaggle_kit.training.metrics import accuracy, classification_metrics


class FoldStatus(str, Enum):
    """What happened to a fold in this call of `train_run`."""

    TRAINED = "trained"
    RESUMED = "resumed"  # continued from its last finished epoch
    SKIPPED = "skipped"  # already done (done.json), nothing trained

    def __str__(self) -> str:
        return self.value


@dataclass
class FoldResult:
    fold: int
    status: FoldStatus
    val_accuracy: float
    val_loss: float | None
    best_epoch: int
    epochs_run: int
    seconds: float
    images_per_sec: float | None
    holdout_accuracy: float | None = None
    stopped_early: bool = False

    @classmethod
    def from_metrics(cls, fold: int, m: dict, status: FoldStatus) -> FoldResult:
        """From a fold's `metrics.json`."""
        return cls(fold=fold, status=FoldStatus(status), val_accuracy=m["accuracy"], val_loss=m.get("log_loss"),
                   best_epoch=m.get("best_epoch", 0), epochs_run=m.get("epochs_run", 0),
                   seconds=m.get("seconds", 0.0), images_per_sec=m.get("images_per_sec"),
                   holdout_accuracy=m.get("holdout_accuracy"), stopped_early=m.get("stopped_early", False))


@dataclass
class RunResult:
    run_dir: Path
    folds: list[FoldResult]
    metrics: dict
    strategy: str = ""
    seconds: float = 0.0

    @property
    def cv_accuracy(self) -> float | None:
        return self.metrics.get("cv_accuracy")


def write_fold_outputs(fdir: Path, fold: int, spec, y_va, va_rows, oof, holdout, hold_probs,
                       chash: str, extra: dict, model_file: str) -> dict:
    """oof.npy/oof_rows.npy/holdout.npy/metrics.json, then done.json (the fold's completion mark)."""
    with atomic_path(fdir / "oof.npy") as tmp:
        np.save(tmp, oof.astype(np.float32))
    with atomic_path(fdir / "oof_rows.npy") as tmp:
        np.save(tmp, np.asarray(va_rows, np.int64))
    m = classification_metrics(y_va, oof, spec.classes)
    m = {"fold": fold, **{k: m[k] for k in ("n", "accuracy", "log_loss", "per_class_accuracy")}, **extra}
    if hold_probs is not None:
        with atomic_path(fdir / "holdout.npy") as tmp:
            np.save(tmp, hold_probs.astype(np.float32))
        m["holdout_accuracy"] = accuracy(holdout[1], hold_probs)
    atomic_write_json(fdir / "metrics.json", m)
    atomic_write_json(fdir / runs.DONE_FILE, {
        "fold": fold, "config_hash": chash, "model": model_file, "model_sha256": sha256_file(fdir / model_file),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "host": os.uname().nodename,
    })
    return m


def history_csv(rows: list[dict]) -> str:
    """Per-epoch rows as CSV text; columns in order of first appearance (a metric may start mid-run)."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in keys})
    return out.getvalue()


def read_history(path: str | Path) -> dict[str, list[float]]:
    """A `history.csv` as columns of floats."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            try:
                cols.setdefault(k, []).append(float(v))
            except (TypeError, ValueError):
                cols.setdefault(k, []).append(float("nan"))
    return cols
