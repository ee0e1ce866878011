"""`kk blend` and pseudo-labelling on real runs of the scikit-learn baselines (fast: no TensorFlow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.competition import Competition
from kaggle_kit.errors import KKError
from kaggle_kit.sample_data import write_competition
from kaggle_kit.submission import validate_submission
from kaggle_kit.training.blend import cross_fit_probs, fit_weights
from kaggle_kit.training.predict import predict_run
from kaggle_kit.training.recipes import load_recipe
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.trainer import train_run


class Recorder(Reporter):
    def __init__(self):
        self.messages, self.starts = [], []

    def message(self, text):
        self.messages.append(text)

    def on_fold_start(self, fold, info):
        self.starts.append(info)


@pytest.fixture(scope="module")
def comp_and_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("blend")
    store = write_competition(base / "store", n_train=400, n_test=60)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    out = {}
    for name, sets in (("knn", ["folds=3"]), ("random-forest", ["folds=3", "seed=7", "model.params.n_estimators=40"])):
        run = base / name
        train_run(comp, load_recipe(name, sets), run)
        predict_run(run, comp)
        out[name] = run
    return comp, out


def test_weights_prefer_the_better_model_and_cross_fitting_does_not_flatter():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    good = np.full((300, 3), 0.1)
    good[np.arange(300), y] = 0.8
    noise = rng.dirichlet(np.ones(3), 300)
    w = fit_weights([good, noise], y)
    assert w[0] > 0.8 and w.sum() == pytest.approx(1.0) and (w >= 0).all()
    crossed = cross_fit_probs([good, noise], y)
    assert np.mean(crossed.argmax(1) == y) == 1.0  # good alone is perfect, and the cross-fitted blend keeps it


def test_kk_blend_writes_a_run_like_folder_with_a_valid_submission(comp_and_runs, tmp_path):
    comp, runs_ = comp_and_runs
    out = tmp_path / "blend"
    res = CliRunner().invoke(app, ["blend", str(runs_["knn"]), str(runs_["random-forest"]), "--out", str(out),
                                   "--data-dir", str(comp.data_dir)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "blend.json").read_text())
    assert summary["rows"] == 400 and len(summary["runs"]) == 2
    assert sum(r["weight"] for r in summary["runs"]) == pytest.approx(1.0)
    best_single = max(r["oof_accuracy"] for r in summary["runs"])
    assert summary["cv_accuracy"] >= best_single - 0.03  # a blend does not fall far below its best member
    test = np.load(out / "test_probs.npy")
    assert test.shape == (60, 10) and np.allclose(test.sum(1), 1.0, atol=1e-4)
    assert validate_submission(out / "submission.csv", comp.spec).rows == 60
    assert json.loads((out / "run.json").read_text())["kind"] == "blend"
    assert "blend OOF accuracy" in res.output


def test_blend_refuses_a_run_without_test_predictions(comp_and_runs, tmp_path):
    comp, runs_ = comp_and_runs
    bare = tmp_path / "bare"
    train_run(comp, load_recipe("knn", ["folds=2"]), bare)
    from kaggle_kit.training.blend import blend_runs

    with pytest.raises(KKError, match="kk predict"):
        blend_runs([runs_["knn"], bare], comp, tmp_path / "out")


def test_pseudo_labels_from_a_predicted_run_join_every_fold_s_training_set(comp_and_runs, tmp_path):
    comp, runs_ = comp_and_runs
    probs = np.load(runs_["random-forest"] / "test_probs.npy")
    sure = int((probs.max(1) >= 0.5).sum())
    assert 0 < sure
    rep = Recorder()
    train_run(comp, load_recipe("knn", ["folds=3", f'pseudo_label="{runs_["random-forest"]}"',
                                        "pseudo_threshold=0.5"]), tmp_path / "pl", reporter=rep)
    plain = Recorder()
    train_run(comp, load_recipe("knn", ["folds=3"]), tmp_path / "plain", reporter=plain)
    assert [s["n_train"] - p["n_train"] for s, p in zip(rep.starts, plain.starts)] == [sure] * 3
    assert [s["n_val"] for s in rep.starts] == [p["n_val"] for p in plain.starts]  # never validated on
    assert any(f"{sure} of 60 test rows" in m for m in rep.messages)
    with pytest.raises(KKError, match="kk predict"):
        train_run(comp, load_recipe("knn", ["folds=3", f'pseudo_label="{tmp_path / "plain"}"']), tmp_path / "x")
