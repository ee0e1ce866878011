"""A run's manifest.json is tamper evidence: kk never re-signs files it did not just write (issue: one `kk predict`
used to rewrite the manifest from disk, so a swapped fold model then passed every later check)."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.sample_data import write_competition
from kaggle_kit.training import runs


def kk(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_swapped_fold_model_is_refused_before_and_after_a_predict(tmp_path):
    store = write_competition(tmp_path / "store", n_train=200, n_test=40)
    data = store / "digit-recognizer" / "data"
    run = tmp_path / "run"
    assert kk("train", "digit-recognizer", "--data-dir", data, "--recipe", "knn", "--folds", 2,
              "--run-dir", run).exit_code == 0
    ok = kk("predict", run, "--data-dir", data)
    assert ok.exit_code == 0, ok.output
    recorded = json.loads((run / runs.MANIFEST_FILE).read_text())["files"]
    assert "submission.csv" in recorded and "test_probs.npy" in recorded  # what predict wrote is signed

    model = next(p for p in (run / "fold0").iterdir() if p.name.startswith("model"))
    original = recorded[f"fold0/{model.name}"]["sha256"]
    shutil.copyfile(run / "fold1" / model.name, model)  # fold 1's model where fold 0's was

    again = kk("predict", run, "--data-dir", data)
    assert again.exit_code != 0
    assert f"fold0/{model.name}: sha256 differs from the manifest" in again.output
    assert json.loads((run / runs.MANIFEST_FILE).read_text())["files"][f"fold0/{model.name}"]["sha256"] == original


def test_a_truncated_manifest_is_an_error_not_replaced(tmp_path):
    store = write_competition(tmp_path / "store", n_train=200, n_test=40)
    data = store / "digit-recognizer" / "data"
    run = tmp_path / "run"
    assert kk("train", "digit-recognizer", "--data-dir", data, "--recipe", "knn", "--folds", 2,
              "--run-dir", run).exit_code == 0
    text = (run / runs.MANIFEST_FILE).read_text()
    (run / runs.MANIFEST_FILE).write_text(text[:40])
    result = kk("predict", run, "--data-dir", data)
    assert result.exit_code != 0 and "manifest.json: damaged" in result.output
    assert "Traceback" not in result.output
    assert (run / runs.MANIFEST_FILE).read_text() == text[:40]


def test_predicting_another_competition_needs_allow_other_data(tmp_path):
    kannada = write_competition(tmp_path / "k", layout="kannada", n_train=200, n_test=40) / "Kannada-MNIST" / "data"
    digits = write_competition(tmp_path / "d", n_train=200, n_test=40, seed=1) / "digit-recognizer" / "data"
    run = tmp_path / "run"
    assert kk("train", "Kannada-MNIST", "--data-dir", kannada, "--recipe", "knn", "--folds", 2,
              "--run-dir", run).exit_code == 0
    refused = kk("predict", run, "--data-dir", digits, "--out", tmp_path / "s.csv")
    assert refused.exit_code != 0 and "trained on" in refused.output and "--allow-other-data" in refused.output
    assert not (tmp_path / "s.csv").exists()
    allowed = kk("predict", run, "--data-dir", digits, "--out", tmp_path / "s.csv",
                 "--allow-other-data")
    assert allowed.exit_code == 0, allowed.output
