"""predict_run on a real (tiny) CNN run: the ensemble is the fold mean (or CV-weighted), TTA is repeatable and
mild, folds can be chosen, and a run folder moved elsewhere predicts the same."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

from kaggle_kit.competition import Competition
from kaggle_kit.errors import KKError
from kaggle_kit.sample_data import write_competition
from kaggle_kit.submission import validate_submission
from kaggle_kit.training import runs
from kaggle_kit.training.predict import predict_run, tta_augment_config
from kaggle_kit.training.recipes import load_recipe
from kaggle_kit.training.trainer import train_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    store = write_competition(tmp / "store", n_train=300, n_test=80)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default", ["folds=2", "epochs=1", "batch_size=64"])
    result = train_run(comp, recipe, tmp / "run")
    return comp, result.run_dir


def _fold_probs(run_dir, fold, images):
    model = keras.models.load_model(run_dir / f"fold{fold}" / "model.keras", compile=False)
    return model.predict(images, verbose=0)


def test_ensemble_is_the_mean_of_fold_probabilities(trained, tmp_path):
    comp, run_dir = trained
    res = predict_run(run_dir, comp, tta=0)
    x = comp.test_images()
    expected = (_fold_probs(run_dir, 0, x) + _fold_probs(run_dir, 1, x)) / 2
    np.testing.assert_allclose(res.probs, expected, atol=1e-5)
    assert res.folds == [0, 1] and res.weights == [0.5, 0.5]
    assert res.submission_path == run_dir / "submission.csv"
    np.testing.assert_array_equal(np.load(run_dir / "test_probs.npy"), res.probs)
    validate_submission(res.submission_path, comp.spec)
    assert "submission.csv" in json.loads((run_dir / "manifest.json").read_text())["files"]
    assert runs.verify_manifest(run_dir) == []


def test_weighted_ensemble_and_fold_selection(trained, tmp_path):
    comp, run_dir = trained
    out = tmp_path / "sub.csv"
    res = predict_run(run_dir, comp, tta=0, weighted=True, out=out)
    cv = [json.loads((run_dir / f"fold{f}" / "metrics.json").read_text())["accuracy"] for f in (0, 1)]
    assert res.weights == pytest.approx([c / sum(cv) for c in cv])
    assert (tmp_path / "test_probs.npy").is_file() and out.is_file()
    one = predict_run(run_dir, comp, tta=0, folds=[1], out=tmp_path / "one.csv")
    np.testing.assert_allclose(one.probs, _fold_probs(run_dir, 1, comp.test_images()), atol=1e-5)
    with pytest.raises(KKError, match=r"fold\(s\) \[5\] not finished"):
        predict_run(run_dir, comp, folds=[5], out=tmp_path / "x.csv")


def test_tta_is_repeatable_mild_and_changes_predictions(trained, tmp_path):
    comp, run_dir = trained
    recipe = load_recipe("default")
    mild = tta_augment_config(recipe.augment)
    assert (mild.rotation, mild.shift, mild.zoom, mild.p) == (recipe.augment.rotation / 2, recipe.augment.shift / 2,
                                                             recipe.augment.zoom / 2, 1.0)
    a = predict_run(run_dir, comp, tta=2, folds=[0], out=tmp_path / "a.csv")
    b = predict_run(run_dir, comp, tta=2, folds=[0], out=tmp_path / "b.csv")
    plain = predict_run(run_dir, comp, tta=0, folds=[0], out=tmp_path / "p.csv")
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
    assert not np.allclose(a.probs, plain.probs, atol=1e-4)
    assert a.tta == 2


def test_run_folder_moved_elsewhere_predicts_the_same(trained, tmp_path):
    comp, run_dir = trained
    moved = tmp_path / "downloaded" / run_dir.name
    shutil.copytree(run_dir, moved)
    for f in ("submission.csv", "test_probs.npy", "prediction.json"):
        (moved / f).unlink(missing_ok=True)
    here = predict_run(run_dir, comp, tta=0, folds=[1], out=tmp_path / "here.csv")
    there = predict_run(moved, comp, tta=0, folds=[1])
    np.testing.assert_allclose(here.probs, there.probs, atol=1e-6)
    with pytest.raises(KKError, match="not a kk run folder"):
        predict_run(tmp_path, comp)
