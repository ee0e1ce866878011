"""train_run: an interrupted fold resumes from its last epoch (weights + optimizer state), a different recipe is
refused, the extra hold-out file is scored per fold. Real TensorFlow training on a few hundred digits."""

from __future__ import annotations

import csv
import json

import keras
import numpy as np
import pytest

from kaggle_kit.competition import Competition
from kaggle_kit.errors import ConfigError
from kaggle_kit.io import sha256_file
from kaggle_kit.sample_data import write_competition
from kaggle_kit.training import runs
from kaggle_kit.training.recipes import load_recipe
from kaggle_kit.training.reporting import PlainReporter, Reporter
from kaggle_kit.training.trainer import train_run

pytestmark = pytest.mark.slow


class Crash(Exception):
    pass


class Recorder(Reporter):
    """Records what the trainer reports; optionally crashes right after epoch `crash_after` was checkpointed."""

    def __init__(self, crash_after: int | None = None):
        self.crash_after = crash_after
        self.starts, self.epochs, self.ends, self.messages = [], [], [], []

    def message(self, text):
        self.messages.append(text)

    def on_fold_start(self, fold, info):
        self.starts.append((fold, info))

    def on_epoch_end(self, fold, epoch, logs):
        self.epochs.append((fold, epoch, logs))
        if epoch == self.crash_after:
            raise Crash(f"killed after epoch {epoch}")

    def on_fold_end(self, fold, result):
        self.ends.append(result)


def _history(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_interrupted_fold_resumes_from_its_last_epoch_and_other_recipes_are_refused(tmp_path):
    store = write_competition(tmp_path / "store", n_train=300, n_test=60)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default", ["folds=2", "epochs=2", "batch_size=64"])
    run_dir = tmp_path / "run"
    steps = int(np.ceil(150 / 64))

    first = Recorder(crash_after=1)
    with pytest.raises(Crash):
        train_run(comp, recipe, run_dir, folds_to_train=[0], reporter=first)
    fdir = run_dir / "fold0"
    state = json.loads((fdir / "state.json").read_text())
    assert state["epoch"] == 1 and state["last_sha256"] == sha256_file(fdir / "last.keras")
    assert not (fdir / "done.json").exists()
    row1 = _history(fdir / "history.csv")
    assert len(row1) == 1

    second = Recorder(crash_after=2)  # resumes, trains epoch 2, is killed again right after its checkpoint
    with pytest.raises(Crash):
        train_run(comp, recipe, run_dir, folds_to_train=[0], reporter=second)
    fold, info = second.starts[0]
    assert (fold, info["initial_epoch"], info["resumed"]) == (0, 1, True)
    assert [e[1] for e in second.epochs] == [2]  # only the missing epoch was trained
    # the optimizer continued from its saved state: 2 epochs of steps in all, not 1
    ckpt = keras.models.load_model(fdir / "last.keras")
    assert int(ckpt.optimizer.iterations.numpy()) == 2 * steps

    third = Recorder()  # every epoch is done: only the fold's outputs remain to be written
    result = train_run(comp, recipe, run_dir, folds_to_train=[0], reporter=third)
    assert third.starts[0][1]["initial_epoch"] == 2 and third.epochs == []
    hist = _history(fdir / "history.csv")
    assert [h["epoch"] for h in hist] == ["1", "2"] and hist[0] == row1[0]
    assert result.folds[0].status == "resumed" and result.folds[0].epochs_run == 2
    assert (fdir / "done.json").is_file() and (fdir / "model.keras").is_file()
    for transient in ("last.keras", "state.json", "best.weights.h5"):
        assert not (fdir / transient).exists()

    with pytest.raises(ConfigError, match="refusing to resume") as exc:
        train_run(comp, load_recipe("default", ["folds=2", "epochs=3", "batch_size=64"]), run_dir, reporter=Recorder())
    assert "epochs: 2 -> 3" in str(exc.value)
    assert not (run_dir / "fold1").exists()


def test_extra_file_as_holdout_is_scored_per_fold(tmp_path):
    store = write_competition(tmp_path / "store", layout="kannada", n_train=300, n_test=60, n_extra=80)
    comp = Competition.open(store / "Kannada-MNIST" / "data", slug="Kannada-MNIST")
    recipe = load_recipe("default", ["folds=2", "epochs=1", "batch_size=64", 'extra_data="holdout"'])
    rec = Recorder()
    result = train_run(comp, recipe, tmp_path / "run", folds_to_train=[0], reporter=rec)
    assert rec.starts[0][1]["n_train"] == 150  # hold-out rows are not trained on
    m = result.metrics
    assert m["folds_done"] == [0] and m["complete"] is False and m["oof_rows_scored"] == 150
    h = m["holdout"]
    assert h["file"] == "Dig-MNIST.csv" and h["n"] == 80
    fold0 = json.loads((tmp_path / "run" / "fold0" / "metrics.json").read_text())
    assert h["per_fold"] == {"0": fold0["holdout_accuracy"]}
    probs = np.load(tmp_path / "run" / "fold0" / "holdout.npy")
    _, y_extra = comp.extra_arrays("Dig-MNIST.csv")
    assert probs.shape == (80, 10)
    assert h["ensemble_accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == y_extra)))
    assert any("Dig-MNIST.csv (80 rows): scored separately" in s for s in rec.messages)
    assert runs.verify_manifest(tmp_path / "run") == []


def test_same_seed_same_fold(tmp_path):
    """--seed fixes folds, data order, augmentation draws and initialisation: the same fold trains identically."""
    store = write_competition(tmp_path / "store", n_train=200, n_test=20)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default", ["folds=2", "epochs=1", "batch_size=32", "limit=120", "seed=5"])
    lines: list[str] = []
    for name in ("a", "b"):
        train_run(comp, recipe, tmp_path / name, folds_to_train=[1], reporter=PlainReporter(print_fn=lines.append))
    train_run(comp, load_recipe("default", ["folds=2", "epochs=1", "batch_size=32", "limit=120", "seed=6"]),
              tmp_path / "c", folds_to_train=[1])
    # Same seed: the same model up to float reduction order (no op determinism asked for); another seed: another.
    oof = {n: np.load(tmp_path / f"{n}/fold1/oof.npy") for n in "abc"}
    np.testing.assert_allclose(oof["a"], oof["b"], atol=1e-4)
    assert np.abs(oof["a"] - oof["c"]).max() > 1e-3
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")  # not the timings
    ha, hb = (_history(tmp_path / f"{n}/fold1/history.csv") for n in ("a", "b"))
    np.testing.assert_allclose([[float(r[k]) for k in keys] for r in ha], [[float(r[k]) for k in keys] for r in hb],
                               rtol=1e-3)
    # the kernels' plain-text progress: one line per epoch, fold and run, no terminal codes
    assert any(s.startswith("fold 1 epoch 1: loss ") and "img/s" in s for s in lines)
    assert any(s.startswith("CV accuracy ") for s in lines) and not any("\x1b" in s for s in lines)
