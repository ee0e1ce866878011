"""Every ensemble option changes the probabilities the way it says: weights, TTA, fold selection.

The pure-numpy parts of `kaggle_kit.training.predict` (fold weights, TTA mean, weighted sum) are checked directly
(fast, and the mutation-testing target); `kk predict` itself is checked end to end on a real k-NN run (trained by
`kk train`, scikit-learn: no TensorFlow training), whose per-fold probabilities are read back with `--fold i`.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.sample_data import write_competition
from kaggle_kit.training import runs
from kaggle_kit.training.predict import average_passes, ensemble_probs, fold_weights

runner = CliRunner()


def kk(*args):
    return runner.invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------------------------------------ pure functions


def test_fold_weights_equal_and_weighted():
    cv = {0: 0.9, 3: 0.3}
    assert fold_weights(cv, weighted=False) == [0.5, 0.5]
    assert fold_weights(cv, weighted=True) == pytest.approx([0.75, 0.25])
    assert fold_weights({2: 0.8, 0: 0.2, 1: 1.0}, weighted=True) == pytest.approx([0.4, 0.1, 0.5])  # dict order
    assert sum(fold_weights({i: 0.1 * i + 0.05 for i in range(5)}, weighted=True)) == pytest.approx(1.0)
    assert fold_weights({0: 0.3, 1: 0.1}, weighted=True) == pytest.approx([0.75, 0.25])  # CVs summing below 1


def test_fold_weights_fallbacks():
    assert fold_weights({0: 0.0, 1: 0.0}, weighted=True) == [0.5, 0.5]  # no CV: equal shares
    assert fold_weights({4: 0.7}, weighted=True) == [1.0]
    assert fold_weights({}, weighted=True) == []
    assert fold_weights({0: 0.2, 1: 0.2, 2: 0.2, 3: 0.2}, weighted=False) == [0.25] * 4


def test_ensemble_probs_is_the_weighted_sum():
    a = np.array([[1.0, 0.0], [0.2, 0.8]])
    b = np.array([[0.0, 1.0], [0.6, 0.4]])
    np.testing.assert_allclose(ensemble_probs([a, b], [0.75, 0.25]), [[0.75, 0.25], [0.3, 0.7]])
    np.testing.assert_allclose(ensemble_probs([a, b], [0.5, 0.5]), (a + b) / 2)
    np.testing.assert_allclose(ensemble_probs([b], [1.0]), b)
    assert ensemble_probs([a.astype(np.float32)], [1.0]).dtype == np.float64


def test_ensemble_probs_refuses_mismatches():
    a = np.ones((2, 3)) / 3
    with pytest.raises(ValueError, match="2 fold"):
        ensemble_probs([a, a], [1.0])
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2, 4\) cannot"):
        ensemble_probs([a, np.ones((2, 4)) / 4], [0.5, 0.5])
    with pytest.raises(ValueError, match="^no fold to ensemble$"):
        ensemble_probs([], [])


def test_average_passes_is_the_plain_mean():
    passes = [np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]]), np.array([[0.1, 0.9]])]
    np.testing.assert_allclose(average_passes(passes), [[0.4, 0.6]])
    np.testing.assert_allclose(average_passes(passes[:1]), passes[0])
    # float32 model outputs are averaged in float64
    third = np.full((1, 2), 1 / 3, np.float32)
    assert average_passes([third, third]).dtype == np.float64


# ------------------------------------------------------------------------------------- kk predict, end to end


@pytest.fixture(scope="module")
def knn_run(tmp_path_factory):
    """A 2-fold k-NN run trained by `kk train`; fold CVs rewritten to 0.9 / 0.3 so weighting is unmistakable."""
    tmp = tmp_path_factory.mktemp("ensemble")
    store = write_competition(tmp / "store", n_train=200, n_test=60)
    kannada = write_competition(tmp / "kstore", layout="kannada", n_train=100, n_test=30, n_extra=0,
                                labels=[0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    data = store / "digit-recognizer" / "data"
    run_dir = tmp / "run"
    r = kk("train", "digit-recognizer", "--data-dir", data, "--recipe", "knn", "--folds", 2, "--run-dir", run_dir,
           "--set", "model.params.n_neighbors=7")
    assert r.exit_code == 0, r.output
    for fold, acc in ((0, 0.9), (1, 0.3)):
        path = run_dir / f"fold{fold}" / "metrics.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "accuracy": acc}))
    # signed again as if kk had written them: predict refuses a run whose files differ from its manifest
    runs.record_artifacts(run_dir, rewritten=["fold0/metrics.json", "fold1/metrics.json"])
    return run_dir, data, kannada / "Kannada-MNIST" / "data", tmp


def _predict(run_dir, data, out, *args):
    r = kk("predict", run_dir, "--data-dir", data, "--out", out, *args)
    assert r.exit_code == 0, r.output
    return np.load(out.parent / "test_probs.npy"), r.output


@pytest.mark.slow
def test_weighted_applies_the_fold_weights(knn_run, tmp_path):
    run_dir, data, _, _ = knn_run
    p0, _ = _predict(run_dir, data, tmp_path / "f0" / "s.csv", "--tta", 0, "--fold", 0)
    p1, _ = _predict(run_dir, data, tmp_path / "f1" / "s.csv", "--tta", 0, "--fold", 1)
    assert not np.allclose(p0, p1)  # the folds disagree somewhere, so weighting is observable
    mean, out = _predict(run_dir, data, tmp_path / "m" / "s.csv", "--tta", 0)
    np.testing.assert_allclose(mean, (p0 + p1) / 2, atol=1e-6)
    assert "[0:0.500, 1:0.500]" in out
    weighted, out = _predict(run_dir, data, tmp_path / "w" / "s.csv", "--tta", 0, "--weighted")
    np.testing.assert_allclose(weighted, 0.75 * p0 + 0.25 * p1, atol=1e-6)
    assert "[0:0.750, 1:0.250]" in out
    assert not np.allclose(weighted, mean)
    # the submission is the argmax of the ensemble it reports
    labels = [int(line.split(",")[1]) for line in (tmp_path / "w" / "s.csv").read_text().splitlines()[1:]]
    assert labels == weighted.argmax(axis=1).tolist()
    info = json.loads((tmp_path / "w" / "prediction.json").read_text())
    assert info["weighted"] is True and info["weights"] == pytest.approx([0.75, 0.25])


@pytest.mark.slow
def test_fold_selection_uses_only_the_chosen_folds(knn_run, tmp_path):
    run_dir, data, _, _ = knn_run
    p1, out = _predict(run_dir, data, tmp_path / "a" / "s.csv", "--tta", 0, "--fold", 1)
    assert "ensemble of 1 fold(s) [1:1.000]" in out
    both, _ = _predict(run_dir, data, tmp_path / "b" / "s.csv", "--tta", 0, "--fold", 0, "--fold", 1)
    p0, _ = _predict(run_dir, data, tmp_path / "c" / "s.csv", "--tta", 0, "--fold", 0)
    np.testing.assert_allclose(both, (p0 + p1) / 2, atol=1e-6)
    r = kk("predict", run_dir, "--data-dir", data, "--out", tmp_path / "x.csv", "--fold", 5)
    assert r.exit_code != 0 and "fold(s) [5] not finished" in r.output and "Traceback" not in r.output


@pytest.mark.slow
def test_tta_changes_the_probabilities_repeatably(knn_run, tmp_path):
    run_dir, data, _, _ = knn_run
    plain, _ = _predict(run_dir, data, tmp_path / "p" / "s.csv", "--tta", 0, "--fold", 0)
    a, out = _predict(run_dir, data, tmp_path / "a" / "s.csv", "--tta", 2, "--fold", 0)
    b, _ = _predict(run_dir, data, tmp_path / "b" / "s.csv", "--tta", 2, "--fold", 0)
    assert "TTA 2 augmented pass(es)" in out
    np.testing.assert_allclose(a, b, atol=1e-7)  # seeded passes
    assert not np.allclose(a, plain, atol=1e-4)  # the augmented passes are averaged in
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)
    r = kk("predict", run_dir, "--data-dir", data, "--out", tmp_path / "n.csv", "--tta", -1)
    assert r.exit_code != 0 and "--tta -1" in r.output


@pytest.mark.slow
def test_predicting_on_a_different_class_set_is_refused(knn_run, tmp_path):
    run_dir, _, kannada, _ = knn_run
    out = tmp_path / "k" / "s.csv"
    r = kk("predict", run_dir, "--data-dir", kannada, "--out", out)
    assert r.exit_code != 0 and "Traceback" not in r.output
    text = re.sub(r"\s+", " ", r.output)
    assert "trained on classes" in text and "[0, 2, 4" in text, text
    assert not out.exists()
