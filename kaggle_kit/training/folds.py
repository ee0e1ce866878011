"""Which rows train and which validate: seeded stratified samples and K-fold assignments, saved as `folds.csv`.

A fold assignment is a pure function of the labels, K and the seed, so a kernel that trains only fold 3 and a
laptop that trains folds 0-2 agree on every row without talking to each other; `folds.csv` in the run folder
records it and is checked again on resume.

Example:

    y = np.repeat(np.arange(10), 30)
    fa = assign_folds(y, k=5, seed=42)
    fa.train_rows(0).size, fa.val_rows(0).size  # (240, 60)
    save_folds("runs/x/folds.csv", fa, y)
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_kit.errors import ConfigError, DataError
from kaggle_kit.io import atomic_write_text


@dataclass(frozen=True)
class FoldAssignment:
    """`rows[j]` (an index into the training file) validates in fold `folds[j]` and trains in every other fold."""

    rows: np.ndarray
    folds: np.ndarray
    k: int

    def __post_init__(self):
        if len(self.rows) != len(self.folds):
            raise ValueError("rows and folds must have the same length")

    def __len__(self) -> int:
        return len(self.rows)

    def val_rows(self, fold: int) -> np.ndarray:
        """Training-file row indices validated by `fold` (sorted)."""
        self._check(fold)
        return self.rows[self.folds == fold]

    def train_rows(self, fold: int) -> np.ndarray:
        """Training-file row indices that `fold` trains on (sorted)."""
        self._check(fold)
        return self.rows[self.folds != fold]

    def _check(self, fold: int) -> None:
        if not 0 <= fold < self.k:
            raise ConfigError(f"fold {fold} does not exist: this run has {self.k} folds (0..{self.k - 1})")

    def equals(self, other: FoldAssignment) -> bool:
        return self.k == other.k and np.array_equal(self.rows, other.rows) and np.array_equal(self.folds, other.folds)


def stratified_sample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a stratified sample of `n` rows (every class keeps its share, at least one row each).

    `n >= len(labels)` returns every row.
    """
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    if n < len(classes):
        raise ConfigError(f"limit={n} is smaller than the number of classes ({len(classes)}); "
                          f"a stratified sample needs at least one row per class")
    # Largest-remainder apportionment: exact total, proportional shares, >= 1 per class.
    share = counts / counts.sum() * n
    take = np.maximum(np.floor(share).astype(int), 1)
    take = np.minimum(take, counts)
    rest = n - take.sum()
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    i = 0
    while rest != 0:
        c = order[i % len(order)]
        if rest > 0 and take[c] < counts[c]:
            take[c] += 1
            rest -= 1
        elif rest < 0 and take[c] > 1:
            take[c] -= 1
            rest += 1
        i += 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), size=t, replace=False) for c, t in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def assign_folds(labels: np.ndarray, k: int, seed: int, rows: np.ndarray | None = None) -> FoldAssignment:
    """Stratified K-fold assignment (scikit-learn `StratifiedKFold`, shuffled with `seed`) of `rows`.

    `labels` are the labels of all training rows; `rows` (default: all) selects which of them take part.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    rows = np.arange(len(labels)) if rows is None else np.sort(np.asarray(rows, dtype=np.int64))
    if k < 2:
        raise ConfigError(f"folds={k}: need at least 2 folds")
    if k > len(rows):
        raise ConfigError(f"folds={k} is more than the {len(rows)} training rows")
    y = labels[rows]
    folds = np.full(len(rows), -1, dtype=np.int64)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # A class rarer than K cannot appear in every fold; sklearn warns and still splits, which is what we want.
        warnings.simplefilter("ignore", UserWarning)
        for fold, (_, val) in enumerate(skf.split(np.zeros(len(rows)), y)):
            folds[val] = fold
    return FoldAssignment(rows=rows.astype(np.int64), folds=folds, k=k)


def save_folds(path: str | Path, assignment: FoldAssignment, labels: np.ndarray | None = None) -> Path:
    """Write `row,fold[,label]` (label = class index of the training row) atomically."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["row", "fold"] + (["label"] if labels is not None else []))
    lab = np.asarray(labels)[assignment.rows] if labels is not None else None
    for j, (r, f) in enumerate(zip(assignment.rows.tolist(), assignment.folds.tolist())):
        w.writerow([r, f] + ([int(lab[j])] if lab is not None else []))
    return atomic_write_text(path, out.getvalue())


def load_folds(path: str | Path, k: int | None = None) -> FoldAssignment:
    """Read a `folds.csv`; `k` defaults to the largest fold + 1."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (the run's fold assignment)")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[:2] != ["row", "fold"]:
            raise DataError(f"{path}: expected a header starting with 'row,fold', found {header}")
        rows, folds = [], []
        for line_no, rec in enumerate(reader, start=2):
            try:
                rows.append(int(rec[0]))
                folds.append(int(rec[1]))
            except (ValueError, IndexError):
                raise DataError(f"{path}: line {line_no}: expected two integers 'row,fold', found {rec}") from None
    rows_a, folds_a = np.asarray(rows, np.int64), np.asarray(folds, np.int64)
    k = k or (int(folds_a.max()) + 1 if len(folds_a) else 0)
    return FoldAssignment(rows=rows_a, folds=folds_a, k=k)


def load_fold_labels(path: str | Path) -> np.ndarray | None:
    """The `label` column of a `folds.csv` (class indices, row order of the file), or None when absent."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if "label" not in header:
            return None
        j = header.index("label")
        return np.asarray([int(r[j]) for r in reader], np.int64)
