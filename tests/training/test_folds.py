"""Fold assignment: stratified, disjoint, complete, repeatable with the seed; stratified --limit samples."""

from __future__ import annotations

import numpy as np
import pytest

from kaggle_kit.errors import ConfigError, DataError
from kaggle_kit.training.folds import assign_folds, load_fold_labels, load_folds, save_folds, stratified_sample


def _labels(n_per_class=(30, 50, 20, 40)):
    return np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])[np.random.default_rng(0).permutation(
        sum(n_per_class))]


def test_folds_are_disjoint_complete_and_stratified():
    y = _labels()
    fa = assign_folds(y, k=5, seed=7)
    assert sorted(np.unique(fa.folds).tolist()) == [0, 1, 2, 3, 4]
    seen = np.concatenate([fa.val_rows(f) for f in range(5)])
    assert sorted(seen.tolist()) == list(range(len(y)))  # every row validates exactly once
    for f in range(5):
        val, tr = fa.val_rows(f), fa.train_rows(f)
        assert not set(val) & set(tr)
        assert len(val) + len(tr) == len(y)
        # each class keeps its share: 1/5 of 30/50/20/40 rows
        counts = np.bincount(y[val], minlength=4)
        assert counts.tolist() == [6, 10, 4, 8]


def test_folds_repeat_with_the_seed_and_change_without_it():
    y = _labels()
    a, b, c = assign_folds(y, 4, seed=1), assign_folds(y, 4, seed=1), assign_folds(y, 4, seed=2)
    assert a.equals(b)
    assert not a.equals(c)


def test_fold_of_a_sample_uses_only_sampled_rows():
    y = _labels()
    rows = stratified_sample(y, 70, seed=3)
    fa = assign_folds(y, 2, seed=3, rows=rows)
    assert np.array_equal(np.sort(np.concatenate([fa.val_rows(0), fa.val_rows(1)])), rows)


def test_stratified_sample_keeps_class_shares():
    y = _labels()  # 140 rows: 30/50/20/40
    rows = stratified_sample(y, 70, seed=0)
    assert len(rows) == 70 and len(set(rows.tolist())) == 70
    assert np.bincount(y[rows], minlength=4).tolist() == [15, 25, 10, 20]
    assert np.array_equal(rows, stratified_sample(y, 70, seed=0))
    assert np.array_equal(stratified_sample(y, 1000, seed=0), np.arange(len(y)))
    with pytest.raises(ConfigError, match="limit=3"):
        stratified_sample(y, 3, seed=0)


def test_folds_csv_round_trip(tmp_path):
    y = _labels()
    fa = assign_folds(y, 3, seed=0)
    path = save_folds(tmp_path / "folds.csv", fa, y)
    assert path.read_text().splitlines()[0] == "row,fold,label"
    back = load_folds(path, k=3)
    assert back.equals(fa)
    assert np.array_equal(load_fold_labels(path), y[fa.rows])


def test_bad_fold_requests_are_clear_errors(tmp_path):
    y = _labels()
    fa = assign_folds(y, 3, seed=0)
    with pytest.raises(ConfigError, match="fold 3 does not exist"):
        fa.val_rows(3)
    with pytest.raises(ConfigError, match="more than the"):
        assign_folds(y[:2], 3, seed=0)
    bad = tmp_path / "folds.csv"
    bad.write_text("row,fold\n1,x\n")
    with pytest.raises(DataError, match="line 2"):
        load_folds(bad)
