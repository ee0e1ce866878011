"""Learning-rate schedules as Keras callbacks, plus `lr_at`, the same schedule as a pure function.

Positions are in epochs (a float: epoch 2, batch 50 of 100 is 2.5). Schedules that change per epoch
(constant, step, exponential) set the rate at each epoch start; cosine and one-cycle set it before every batch
so the warm-up is smooth. Every callback writes the rate it used into the epoch logs as `learning_rate`
(the key Keras' own `ReduceLROnPlateau` uses), so it lands in the history CSV. The callbacks use the epoch
number Keras passes in, so `fit(initial_epoch=k)` on resume continues the schedule where it stopped.

| name | rate at position t (epochs) of E |
|---|---|
| `constant` | `base_lr` |
| `step` | `values[i]`, i = number of `boundaries` <= floor(t); no `values`: `base_lr * factor**i`. Notebook 000: boundaries [49, 99], values [1e-3, 3e-4, 1e-4] |
| `exponential` | `base_lr * decay**floor(t)` (notebooks 002/003: 0.9, 0.95) |
| `plateau` | `ReduceLROnPlateau(monitor, factor, patience, min_lr)`; depends on metrics, `lr_at` returns `base_lr` |
| `cosine` | warm-up W = `warmup_epochs` (or `warmup_fraction` x E): linear from `base_lr/100` to `base_lr`; then `min_lr + (base_lr - min_lr) * (1 + cos(pi p)) / 2`, p = (t - W) / (E - W) |
| `one_cycle` | warm-up W = `warmup_epochs`, else `warmup_fraction` x E, else 30% of E: linear from `base_lr/25` to `base_lr`; then cosine down to `min_lr` |

Example:
    >>> from kaggle_kit.training.config import ScheduleConfig
    >>> cfg = ScheduleConfig(name="exponential", decay=0.9)
    >>> round(lr_at(cfg, 1e-3, epoch=2, epochs=10), 8)
    0.00081
    >>> callbacks = build_schedule_callbacks(cfg, base_lr=1e-3, epochs=10, steps_per_epoch=300)

Cosine and one-cycle are defined over the run's length E, so they scale with `--epochs`; under a time budget E
is a `RunLength` the planner shortens while training, and the rate follows the new length from the next step:
    >>> length = RunLength(10)
    >>> cos = ScheduleConfig(name="cosine", warmup_fraction=0.1)
    >>> (cb,) = build_schedule_callbacks(cos, base_lr=1e-3, epochs=length, steps_per_epoch=300)
    >>> round(cb.fn(2.0) * 1e3, 4)  # position 2 of 10: near the top
    0.9699
    >>> length.epochs = 4  # replanned: the same position is now 44% of the way down (warm-up 0.4 epochs)
    >>> round(cb.fn(2.0) * 1e3, 4)
    0.5872
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np

from kaggle_kit.errors import ConfigError
from kaggle_kit.registry import Registry
from kaggle_kit.training.config import ScheduleConfig

COSINE_WARMUP_START = 0.01  # cosine warm-up starts at base_lr * this
ONE_CYCLE_DIV = 25.0  # one-cycle starts at base_lr / this (Smith's and PyTorch's default)
ONE_CYCLE_WARMUP = 0.3  # one-cycle warm-up fraction when warmup_epochs is 0
PER_STEP = {"cosine", "one_cycle"}


class RunLength:
    """The planned number of epochs of a run, readable while it trains (a time budget may replan it).

    A length-relative schedule reads `position(epoch)` on a run of `total` epochs. Until a replan both are the
    epoch and the plan. A replan at epoch `t` keeps the schedule continuous: what is left of it (from the
    position reached at `t`) is stretched or squeezed over the new remaining epochs, so a longer plan slows the
    decay from here on instead of raising the rate again, and a shorter one speeds it up instead of jumping
    ahead. Either way the schedule reaches its end exactly at the new last epoch.

    Example:
        >>> length = RunLength(10)
        >>> length.position(4.0)
        4.0
        >>> length.replan(16, at=4.0)  # 6 epochs of schedule left, now spread over 12
        >>> length.position(4.0), length.position(10.0), length.position(16.0), length.total
        (4.0, 7.0, 10.0, 10)
    """

    def __init__(self, epochs: int):
        self.epochs = int(epochs)
        self.total = self.epochs  # the length of the schedule's own run
        self.anchor = (0.0, 0.0)  # (epoch, position) where the last replan took over

    def position(self, epoch: float) -> float:
        """Where epoch `epoch` of this run falls on the schedule's run of `total` epochs."""
        at, reached = self.anchor
        if epoch <= at:
            return reached - (at - epoch)
        left = self.epochs - at
        if left <= 0:
            return float(self.total)
        return reached + (self.total - reached) * min(1.0, (epoch - at) / left)

    def replan(self, epochs: int, at: float) -> None:
        """Make the run `epochs` long from epoch `at` on, continuing the schedule from where it is at `at`."""
        epochs = int(epochs)
        if epochs != self.epochs:
            self.anchor = (float(at), min(float(self.total), self.position(at)))
            self.epochs = epochs

    def reset(self, epochs: int) -> None:
        """A first plan: the schedule's run becomes `epochs` long, as if the run had been planned so from the start."""
        self.epochs = self.total = int(epochs)
        self.anchor = (0.0, 0.0)

    def to_json(self) -> dict:
        return {"epochs": self.epochs, "total": self.total, "anchor": list(self.anchor)}

    @classmethod
    def from_json(cls, data: dict) -> RunLength:
        length = cls(data["epochs"])
        length.total = int(data["total"])
        length.anchor = (float(data["anchor"][0]), float(data["anchor"][1]))
        return length

    def __repr__(self) -> str:
        return f"RunLength({self.epochs}, total={self.total}, anchor={self.anchor})"


def validate_schedule(cfg: ScheduleConfig, epochs: int) -> None:
    """Raise `ConfigError` naming the field when the schedule cannot work for `epochs` epochs."""
    if cfg.name == "step":
        if sorted(cfg.boundaries) != list(cfg.boundaries) or any(b < 1 for b in cfg.boundaries):
            raise ConfigError(f"schedule.boundaries must be increasing epoch numbers >= 1, got {cfg.boundaries}")
        if cfg.values and len(cfg.values) != len(cfg.boundaries) + 1:
            raise ConfigError(
                f"schedule.values must have one more entry than schedule.boundaries "
                f"({len(cfg.boundaries)} boundaries, {len(cfg.values)} values)"
            )
        if any(v <= 0 for v in cfg.values):
            raise ConfigError(f"schedule.values must be positive, got {cfg.values}")
    if cfg.name == "exponential" and not 0.0 < cfg.decay <= 1.0:
        raise ConfigError(f"schedule.decay must be in (0, 1], got {cfg.decay}")
    if cfg.name in ("plateau", "step") and not 0.0 < cfg.factor < 1.0 and (cfg.name == "plateau" or not cfg.values):
        raise ConfigError(f"schedule.factor must be in (0, 1), got {cfg.factor}")
    if cfg.warmup_epochs < 0 or (cfg.name in PER_STEP and cfg.warmup_epochs >= epochs):
        raise ConfigError(f"schedule.warmup_epochs must be in [0, epochs={epochs}), got {cfg.warmup_epochs}")
    if cfg.min_lr < 0:
        raise ConfigError(f"schedule.min_lr must be >= 0, got {cfg.min_lr}")


SCHEDULES: Registry[Callable[[ScheduleConfig, float, float, int], float]] = Registry("schedule",
                                                                                 field="schedule.name")


def lr_at(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int) -> float:
    """The learning rate at position `epoch` (float, in epochs) of a run of `epochs` epochs."""
    return float(SCHEDULES.get(cfg.name)(cfg, base_lr, epoch, epochs))


@SCHEDULES.register("constant")
def constant(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int) -> float:
    """The base rate throughout."""
    return base_lr


@SCHEDULES.register("plateau")
def plateau(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int) -> float:
    """ReduceLROnPlateau: multiply the rate by `factor` when `monitor` stalls for `patience` epochs."""
    return base_lr  # depends on the metrics as they come: `build_schedule_callbacks` gives Keras' callback


@SCHEDULES.register("step")
def step(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int) -> float:
    """Piecewise constant: `values` between `boundaries` (or `base_lr * factor**i`)."""
    i = sum(1 for b in cfg.boundaries if b <= math.floor(epoch))
    return cfg.values[i] if cfg.values else base_lr * cfg.factor**i


@SCHEDULES.register("exponential")
def exponential(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int) -> float:
    """`base_lr * decay**epoch`, per epoch."""
    return base_lr * cfg.decay ** math.floor(epoch)


@SCHEDULES.register("cosine")
def cosine(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int) -> float:
    """Linear warm-up from `base_lr/100`, then cosine decay to `min_lr`, per step."""
    warmup = cfg.warmup_epochs or cfg.warmup_fraction * epochs
    return _warmup_cosine(cfg, base_lr, epoch, epochs, warmup, base_lr * COSINE_WARMUP_START)


@SCHEDULES.register("one_cycle")
def one_cycle(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int) -> float:
    """One-cycle: warm-up from `base_lr/25` over 30% of the run (or `warmup_epochs`), then cosine, per step."""
    warmup = cfg.warmup_epochs or (cfg.warmup_fraction or ONE_CYCLE_WARMUP) * epochs
    return _warmup_cosine(cfg, base_lr, epoch, epochs, warmup, base_lr / ONE_CYCLE_DIV)


def _warmup_cosine(cfg: ScheduleConfig, base_lr: float, epoch: float, epochs: int, warmup: float,
                   start: float) -> float:
    if warmup > 0 and epoch < warmup:
        return start + (base_lr - start) * epoch / warmup
    progress = min(1.0, max(0.0, (epoch - warmup) / max(epochs - warmup, 1e-9)))
    floor = min(cfg.min_lr, base_lr)
    return floor + (base_lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def current_lr(model: keras.Model) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))


def set_lr(model: keras.Model, lr: float) -> None:
    model.optimizer.learning_rate = float(lr)


class LearningRateSchedule(keras.callbacks.Callback):
    """Sets the optimizer's rate from `fn(position_in_epochs)`, per batch (`per_step`) or per epoch.

    Example:
        >>> cb = LearningRateSchedule(lambda t: 1e-3 * 0.5 ** t, steps_per_epoch=100, per_step=True)
    """

    def __init__(self, fn: Callable[[float], float], steps_per_epoch: int, per_step: bool = False):
        super().__init__()
        self.fn = fn
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.per_step = per_step
        self.epoch = 0
        self._last: float | None = None

    def _apply(self, position: float) -> None:
        lr = self.fn(position)
        if lr != self._last:  # assigning the variable every batch costs more than comparing a float
            set_lr(self.model, lr)
            self._last = lr

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._last = None  # something else (resume, another callback) may have changed the rate
        self._apply(float(epoch))

    def on_train_batch_begin(self, batch, logs=None):
        if self.per_step:
            self._apply(self.epoch + batch / self.steps_per_epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = current_lr(self.model)


def build_schedule_callbacks(
    cfg: ScheduleConfig, base_lr: float, epochs: int | RunLength, steps_per_epoch: int
) -> list[keras.callbacks.Callback]:
    """The callbacks that apply schedule `cfg` to a run of `epochs` x `steps_per_epoch` steps from `base_lr`.

    `epochs` may be a `RunLength`: the schedule then reads the length at every step, so a replanned run ends its
    cosine at the new end, continuously (`RunLength.replan`). Epoch-indexed schedules (step, exponential) read
    the epoch itself.
    """
    length = epochs if isinstance(epochs, RunLength) else RunLength(epochs)
    validate_schedule(cfg, length.epochs)
    if cfg.name == "plateau":
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor=cfg.monitor, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr, verbose=0
            )
        ]
    if cfg.name in PER_STEP:  # defined over the run's length
        return [LearningRateSchedule(lambda t: lr_at(cfg, base_lr, length.position(t), length.total),
                                     steps_per_epoch=steps_per_epoch, per_step=True)]
    return [LearningRateSchedule(lambda t: lr_at(cfg, base_lr, t, length.epochs), steps_per_epoch=steps_per_epoch)]
