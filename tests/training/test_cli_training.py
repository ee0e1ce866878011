"""The training commands end to end on a few hundred real digits: kk train (one fold, then the rest: fold 0 is not
retrained), kk predict --tta 1 (valid submission), kk runs, kk recipes, kk augment-preview, kk lr-find + a recipe
taking its rate from the finder, and clear errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.competition import detect_spec
from kaggle_kit.io import sha256_file
from kaggle_kit.sample_data import write_competition
from kaggle_kit.submission import validate_submission
from kaggle_kit.training import runs

runner = CliRunner()


def kk(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    store = write_competition(tmp_path / "store", n_train=300, n_test=80)
    monkeypatch.chdir(tmp_path)
    return tmp_path, store / "digit-recognizer" / "data"


@pytest.mark.slow
def test_train_one_fold_then_resume_then_predict(workdir):
    tmp, data = workdir
    run_dir = tmp / "runs" / "digit-recognizer" / "r1"
    common = ["--data-dir", data, "--folds", 2, "--epochs", 1, "--batch-size", 64, "--run-dir", run_dir]
    r = kk("train", "digit-recognizer", *common, "--fold", 0, "--seed", 3)
    assert r.exit_code == 0, r.output
    assert "strategy: cpu" in r.output and "fold 0 epoch 1" in r.output
    assert "1 fold(s) not trained yet" in r.output
    assert (run_dir / "fold0" / "done.json").is_file() and not (run_dir / "fold1").exists()
    sha0 = sha256_file(run_dir / "fold0" / "model.keras")

    # resume: no recipe flags needed (the run's config.toml is reused); fold 0 is skipped, fold 1 trained
    r = kk("train", "digit-recognizer", "--data-dir", data, "--run-dir", run_dir, "--quiet")
    assert r.exit_code == 0, r.output
    assert "skipped" in r.output and "trained" in r.output and "CV" in r.output
    assert "fold 1 epoch" not in r.output  # --quiet: only the summary
    assert sha256_file(run_dir / "fold0" / "model.keras") == sha0
    assert json.loads((run_dir / "run.json").read_text())["seed"] == 3

    for name in ["config.toml", "spec.json", "folds.csv", "oof.npy", "metrics.json", "manifest.json",
                 "plots/curves.png", "plots/confusion.png", "plots/per_class.png", "plots/misclassified.png",
                 *[f"fold{f}/{n}" for f in (0, 1) for n in ("model.keras", "history.csv", "oof.npy", "oof_rows.npy",
                                                             "metrics.json", "done.json")]]:
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.as_posix() for p in runs.artifact_files(run_dir)}
    for rel, info in manifest["files"].items():
        assert sha256_file(run_dir / rel) == info["sha256"], rel
    assert {"python", "tensorflow", "keras", "numpy", "kaggle_kit"} <= set(manifest["versions"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["complete"] and metrics["folds_done"] == [0, 1] and 0 <= metrics["cv_accuracy"] <= 1
    assert len(metrics["per_class_accuracy"]) == 10 and len(metrics["confusion_matrix"]) == 10

    r = kk("predict", run_dir, "--tta", 1, "--data-dir", data)
    assert r.exit_code == 0, r.output
    assert "valid submission" in r.output
    check = validate_submission(run_dir / "submission.csv", detect_spec(data, load=True))
    assert check.rows == 80
    assert (run_dir / "test_probs.npy").is_file()

    r = kk("runs", "digit-recognizer", "--wide")  # the folds column: narrow tables leave it out
    assert r.exit_code == 0 and "r1" in r.output and "2/2" in r.output and f"{metrics['cv_accuracy']:.5f}" in r.output
    listed = json.loads(kk("runs", "--json").output)
    assert [(x["run_id"], x["folds_done"]) for x in listed] == [("r1", 2)]

    # resuming with a different recipe is refused, naming the setting
    r = kk("train", "digit-recognizer", *common, "--set", "optimizer.lr=0.01")
    assert r.exit_code == 1 and "refusing to resume" in r.output and "optimizer.lr" in r.output


@pytest.mark.slow
def test_lr_find_then_a_finder_recipe_takes_the_suggested_rate(workdir):
    tmp, data = workdir
    r = kk("train", "digit-recognizer", "--data-dir", data, "--set", 'optimizer.lr="finder"', "--folds", 2,
           "--epochs", 1)
    assert r.exit_code == 1 and "no learning-rate finder result" in r.output and "kk lr-find" in r.output
    r = kk("lr-find", "digit-recognizer", "--data-dir", data, "--limit", 200, "--steps", 20)
    assert r.exit_code == 0, r.output
    found = list((tmp / "runs" / "digit-recognizer" / "lr-find").glob("*/lr_finder.json"))
    assert len(found) == 1 and (found[0].parent / "lr_finder.png").is_file()
    suggested = json.loads(found[0].read_text())["suggested"]
    assert "suggested learning rate" in r.output
    r = kk("train", "digit-recognizer", "--set", 'optimizer.lr="finder"', "--show-config")
    assert r.exit_code == 0, r.output
    assert f"lr = {suggested!r}" in r.output and str(found[0]) in r.output


def test_recipes_show_config_and_augment_preview(workdir):
    tmp, data = workdir
    r = kk("recipes")
    assert r.exit_code == 0 and "seed003" in r.output and "svm-pca" in r.output
    assert kk("recipes", "seed001").output.startswith("# seed001")
    r = kk("recipes", "--components", "--json")
    assert r.exit_code == 0, r.output
    rows = {(c["kind"], c["name"]) for c in json.loads(r.output)}
    assert {("model", "kk_cnn"), ("baseline model", "svm-pca"), ("loss", "symmetric_cross_entropy"),
            ("optimizer", "nadam"), ("schedule", "one_cycle"), ("augmentation back end", "albumentations"),
            ("fold trainer", "keras"), ("fold trainer", "scikit-learn")} <= rows
    r = kk("recipes", "--components")
    assert r.exit_code == 0 and "seed003_deotte" in r.output and "Symmetric cross entropy" in r.output
    r = kk("train", "--recipe", "seed003", "--epochs", 2, "--set", "augment.rotation=7", "--show-config")
    assert r.exit_code == 0 and "epochs = 2" in r.output and "rotation = 7.0" in r.output
    r = kk("augment-preview", "digit-recognizer", "--data-dir", data, "--n", 3, "--variants", 4,
           "--out", tmp / "p.png")
    assert r.exit_code == 0, r.output
    assert (tmp / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(tmp / "p.png") in r.output


def test_user_mistakes_are_clear_errors(workdir):
    tmp, data = workdir
    r = kk("train", "digit-recognizer", "--data-dir", data, "--recipe", "nope")
    assert r.exit_code == 1 and "unknown recipe 'nope'" in r.output
    r = kk("train", "digit-recognizer", "--data-dir", data, "--set", "epochs")
    assert r.exit_code == 1 and "expected key=value" in r.output
    r = kk("train", "digit-recognizer", "--data-dir", data, "--folds", 2, "--fold", 4, "--limit", 40)
    assert r.exit_code == 1 and "fold 4 does not exist" in r.output
    r = kk("train", "digit-recognizer", "--data-dir", data, "--extra-data", "maybe")
    words = " ".join(r.output.replace("│", " ").split())  # the usage error box wraps at the terminal width
    assert r.exit_code == 2 and "'maybe' is not one of 'ignore', 'train', 'holdout'" in words
    r = kk("predict", tmp)
    assert r.exit_code == 1 and "not a kk run folder" in r.output
    assert "Traceback" not in r.output

