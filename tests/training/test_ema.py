"""Weight averaging (`optimizer.ema`): the fold is validated, checkpointed and predicted with the moving average of
its weights, and a fold resumed from `last.keras` trains on from its trained weights, not from the average.
Real TensorFlow training on a few hundred digits."""

from __future__ import annotations

import csv

import keras
import numpy as np
import pytest

from kaggle_kit.competition import Competition
from kaggle_kit.sample_data import write_competition
from kaggle_kit.training.callbacks import EMAWeights
from kaggle_kit.training.config import OptimizerConfig
from kaggle_kit.training.optimizers import build_optimizer
from kaggle_kit.training.recipes import load_recipe
from kaggle_kit.training.trainer import train_run

pytestmark = pytest.mark.slow


def _weights(model):
    return [np.array(v) for v in model.trainable_variables]


def _tiny_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    opt = build_optimizer(OptimizerConfig(name="adam", ema=0.5), lr=0.05)
    model.compile(optimizer=opt, loss=keras.losses.MeanSquaredError())
    return model


class FirstBatchWeights(keras.callbacks.Callback):
    """The weights the model trains its first batch with (after every on_epoch_begin has run)."""

    def __init__(self):
        super().__init__()
        self.seen = None

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen is None:
            self.seen = _weights(self.model)


class SaveAfterFirstEpoch(keras.callbacks.Callback):
    """What FoldCheckpoint does at an epoch's end (after EMAWeights): save the model; then stop, as a crash would."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.path)
        self.average = _weights(self.model)
        self.trained = [np.array(v) for v in self.model.optimizer._model_variables_moving_average]
        self.model.stop_training = True


@pytest.mark.parametrize("resumed", [True, False])
def test_a_resumed_fold_trains_on_from_its_trained_weights_not_the_average(tmp_path, resumed):
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.stack([x.sum(1), x[:, 0]], 1)
    model = _tiny_model()
    saved = SaveAfterFirstEpoch(tmp_path / "last.keras")
    model.fit(x, y, batch_size=8, epochs=3, callbacks=[EMAWeights(), saved], verbose=0)
    average, trained = saved.average, saved.trained
    assert max(np.abs(a - t).max() for a, t in zip(average, trained)) > 1e-3  # the two really differ

    restored = _tiny_model()
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(tmp_path / "last.keras")
    probe = FirstBatchWeights()
    restored.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, verbose=0,
                 callbacks=[EMAWeights(resumed=resumed), probe])
    expected = trained if resumed else average  # resumed=False is the mistake: training on from the average
    for seen, want in zip(probe.seen, expected):
        np.testing.assert_allclose(seen, want, atol=1e-6)


def test_a_fold_with_ema_is_scored_and_predicted_with_the_average(tmp_path):
    store = write_competition(tmp_path / "store", n_train=300, n_test=40)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default", ["folds=2", "epochs=1", "batch_size=32", 'probe="off"', "optimizer.lr=0.01",
                                     "optimizer.ema=0.6"])
    run = train_run(comp, recipe, tmp_path / "ema", folds_to_train=[0])
    fdir = tmp_path / "ema" / "fold0"
    # After the one epoch, Keras leaves the average in the optimizer's slots: the kept model must hold it too
    # (keeping the trained weights instead is what a checkpoint written before the swap would do).
    kept = keras.models.load_model(fdir / "model.keras")
    for w, avg in zip(kept.trainable_variables, kept.optimizer._model_variables_moving_average):
        np.testing.assert_allclose(np.array(w), np.array(avg), atol=1e-6)
    # The kept model's out-of-fold predictions are the validation that chose it: the same loss and accuracy.
    with open(fdir / "history.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    fold = run.folds[0]
    assert fold.val_loss == pytest.approx(float(row["val_loss"]), rel=1e-3)
    assert fold.val_accuracy == pytest.approx(float(row["val_accuracy"]))
