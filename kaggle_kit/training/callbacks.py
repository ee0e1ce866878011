"""The Keras callbacks a fold trains with: `FoldCheckpoint` (history, best weights, early stopping, resume
point), `EMAWeights` (the weight average in the model where it is scored and saved) and `BatchProgress`
(per-step progress for a reporter that wants it).

`FoldState` is what `state.json` holds between epochs: enough to resume a fold from its last finished epoch.
`FoldCheckpoint` updates it after every epoch and writes, in this order, `best.weights.h5` (when the monitored
metric improved), `last.keras` (weights + optimizer state), `history.csv`, then `state.json` naming that
checkpoint by its sha256; every write is atomic.

Example:

    state = FoldState(fold=0)
    callbacks = [FoldCheckpoint(fold_dir, state, monitor="val_accuracy", patience=None, n_train=len(x_tr),
                                config_hash=runs.config_hash(recipe), reporter=PlainReporter())]
    model.fit(train_ds, validation_data=val_ds, epochs=8, callbacks=callbacks)
    state.best_epoch  # the epoch whose weights are in best.weights.h5
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import keras

from kaggle_kit.errors import ConfigError
from kaggle_kit.io import atomic_path, atomic_write_json, atomic_write_text, sha256_file
from kaggle_kit.training import runs
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.results import history_csv
from kaggle_kit.training.schedules import current_lr


@dataclass
class FoldState:
    """A fold's progress between epochs (`state.json`); `epoch` counts finished epochs."""

    fold: int
    epoch: int = 0
    best: float | None = None  # best value of the monitored metric so far
    best_epoch: int = 0
    wait: int = 0  # epochs since the monitored metric last improved
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    last_sha256: str | None = None  # the last.keras this state belongs to
    config_hash: str | None = None
    planned_epochs: int | None = None  # a time budget's current plan (None: the recipe's epochs)
    run_length: dict | None = None  # the schedule's `RunLength` after the budget's last replan, to resume it

    @classmethod
    def from_json(cls, data: dict) -> FoldState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict:
        return asdict(self)


def monitor_mode(monitor: str) -> str:
    """`min` for a loss, `max` for anything else (accuracy)."""
    return "min" if "loss" in monitor else "max"


class FoldCheckpoint(keras.callbacks.Callback):
    """Per epoch: history row, best weights by `monitor`, early stopping, and the resume point (all atomic)."""

    def __init__(self, fold_dir: Path, state: FoldState, monitor: str, patience: int | None, n_train: int,
                 config_hash: str, reporter: Reporter):
        super().__init__()
        self.fold_dir = Path(fold_dir)
        self.state = state
        self.monitor = monitor
        self.mode = monitor_mode(monitor)
        self.patience = patience
        self.n_train = n_train
        self.config_hash = config_hash
        self.reporter = reporter
        self.t0 = 0.0
        self.t_train: float | None = None
        self.lr = float("nan")

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()
        self.t_train = None
        self.lr = current_lr(self.model)  # after the schedule callbacks set this epoch's rate

    def on_test_begin(self, logs=None):
        if self.t_train is None:  # validation starts: training images/s stops counting here
            self.t_train = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        now = time.perf_counter()
        train_s = (self.t_train or now) - self.t0
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in logs.items() if k != "learning_rate" and _is_number(v)})
        row.update(lr=self.lr, images_per_sec=self.n_train / max(train_s, 1e-9), seconds=now - self.t0)
        if self.monitor not in row:
            raise ConfigError(f"monitor = {self.monitor!r} is not a logged metric; logged: "
                              f"{', '.join(k for k in row if k not in ('epoch', 'lr', 'seconds'))}")
        state = self.state
        value = row[self.monitor]
        improved = state.best is None or (value < state.best if self.mode == "min" else value > state.best)
        if improved and math.isfinite(value):
            with atomic_path(self.fold_dir / runs.BEST_WEIGHTS, suffix=".weights.h5") as tmp:
                self.model.save_weights(tmp)
            state.best, state.best_epoch, state.wait = value, epoch + 1, 0
        else:
            state.wait += 1
        state.history.append(row)
        if self.patience is not None and state.wait >= self.patience:
            self.model.stop_training = True
            state.stopped_early = True
        state.epoch = epoch + 1
        # Resume point: weights + optimizer state first, then the state that names it (with its hash).
        with atomic_path(self.fold_dir / runs.LAST_CKPT) as tmp:
            self.model.save(tmp)
        state.last_sha256 = sha256_file(self.fold_dir / runs.LAST_CKPT)
        state.config_hash = self.config_hash
        atomic_write_text(self.fold_dir / "history.csv", history_csv(state.history))
        atomic_write_json(self.fold_dir / runs.STATE_FILE, state.to_json())
        self.reporter.on_epoch_end(state.fold, epoch + 1, row)


class EMAWeights(keras.callbacks.SwapEMAWeights):
    """The optimizer's moving average of the weights (`optimizer.ema`) in the model for validation and for each
    epoch's end, so `FoldCheckpoint` (placed after it) scores and saves the average; the trained weights are
    swapped back before the next epoch trains.

    `last.keras` is therefore written with the average in the model and the trained weights in the optimizer's
    slots: a fold resumed from it (`resumed=True`) starts swapped, and swaps back before training on, so the
    resumed fold continues exactly where it stopped.

    Example:

        model.compile(optimizer=keras.optimizers.Adam(use_ema=True, ema_momentum=0.999), ...)
        model.fit(train_ds, validation_data=val_ds, callbacks=[EMAWeights(), FoldCheckpoint(...)])
    """

    def __init__(self, resumed: bool = False):
        super().__init__(swap_on_epoch=True)
        # Keras' own flag for which weights the model holds (there is no public setter).
        self._ema_weights_in_model = bool(resumed)


class BatchProgress(keras.callbacks.Callback):
    """Forwards each finished training step to `reporter.on_batch_end`."""

    async_safe = True  # only forwards a counter; lets Keras keep dispatching steps asynchronously

    def __init__(self, fold: int, steps: int, reporter: Reporter):
        super().__init__()
        self.fold = fold
        self.steps = steps
        self.reporter = reporter
        self.epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self.reporter.on_batch_end(self.fold, self.epoch, batch + 1, self.steps)


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
