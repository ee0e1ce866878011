"""Classical baselines share the folds and run layout: CV accuracy, kk runs listing, prediction; labels that are
not 0..K-1 map back to the competition's own values in the submission."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from kaggle_kit.competition import Competition
from kaggle_kit.sample_data import write_competition
from kaggle_kit.submission import validate_submission
from kaggle_kit.training import runs
from kaggle_kit.training.baselines import baseline_probs, build_baseline, features
from kaggle_kit.training.config import ModelConfig
from kaggle_kit.training.predict import predict_run
from kaggle_kit.training.recipes import load_recipe
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.trainer import train_run

LABELS = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31]  # non-contiguous, not starting at 0


def _solution(path):
    with open(path, newline="") as f:
        return {r[0]: r[1] for r in list(csv.reader(f))[1:]}


def _submission(path):
    with open(path, newline="") as f:
        return [(r[0], r[1]) for r in list(csv.reader(f))[1:]]


class Sizes(Reporter):
    def __init__(self):
        self.n_train = []

    def on_fold_start(self, fold, info):
        self.n_train.append(info["n_train"])


def test_knn_run_scores_and_predicts_with_original_labels(tmp_path):
    store = write_competition(tmp_path / "store", layout="kannada", n_train=400, n_test=100, n_extra=60,
                              labels=LABELS)
    comp = Competition.open(store / "Kannada-MNIST" / "data", slug="Kannada-MNIST")
    recipe = load_recipe("knn", ["folds=3", 'extra_data="train"'])
    sizes = Sizes()
    result = train_run(comp, recipe, tmp_path / "runs" / "Kannada-MNIST" / "knn-run", reporter=sizes)
    run_dir = result.run_dir
    # extra rows join every fold's training set, never its validation set
    assert all(n > 60 for n in sizes.n_train) and sum(n - 60 for n in sizes.n_train) == 2 * 400
    assert result.metrics["complete"] and result.metrics["cv_accuracy"] > 0.85
    for f in range(3):
        assert (run_dir / f"fold{f}" / "model.joblib").is_file()
        assert json.loads((run_dir / f"fold{f}" / "done.json").read_text())["model"] == "model.joblib"
    assert runs.verify_manifest(run_dir) == []
    listed = runs.list_runs("Kannada-MNIST", base=tmp_path / "runs")
    assert [(s.recipe, s.model, s.folds_done, s.cv_accuracy) for s in listed] == [
        ("knn", "knn", 3, result.metrics["cv_accuracy"])]

    pred = predict_run(run_dir, comp, tta=1)
    validate_submission(pred.submission_path, comp.spec)
    truth = _solution(store / "Kannada-MNIST" / "solution.csv")
    rows = _submission(pred.submission_path)
    assert {lab for _, lab in rows} <= {str(v) for v in LABELS}
    assert np.mean([truth[i] == lab for i, lab in rows]) > 0.85  # labels mapped back, not class indices
    assert np.load(run_dir / "test_probs.npy").shape == (100, 10)


@pytest.mark.parametrize("name", ["knn", "random-forest", "svm-pca"])
def test_each_baseline_gives_probabilities_in_class_index_columns(name):
    from kaggle_kit.sample_data import sample_digits

    x, y = sample_digits(0)
    x = x[:300, :, :, None]
    keep = y[:300] != 4  # a fold may lack a class: its column must stay in place (zero)
    est = build_baseline(ModelConfig(name=name, params={"n_estimators": 50} if name == "random-forest" else {}),
                         seed=0, n_train=int(keep[:200].sum()))
    est.fit(features(x[:200][keep[:200]]), y[:200][keep[:200]])
    p = baseline_probs(est, x[200:], num_classes=10)
    assert p.shape == (100, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert np.all(p[:, 4] == 0)
    assert np.mean(p.argmax(1) == y[200:300]) > 0.7
