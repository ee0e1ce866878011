"""Optimizers by name. The learning rate is a plain float (a variable inside the optimizer) so the schedule
callbacks of `schedules.py` and the LR finder can set it per step.

`weight_decay` is Keras 3's decoupled weight decay (AdamW-style), supported by every optimizer here; 0 = off.
`ema` keeps Keras' in-graph moving average of the weights (`use_ema`); `callbacks.EMAWeights` swaps it in for
validation and checkpoints.

Example:
    >>> from kaggle_kit.training.config import OptimizerConfig
    >>> opt = build_optimizer(OptimizerConfig(name="sgd", momentum=0.9), lr=0.01)
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from kaggle_kit.errors import ConfigError
from kaggle_kit.registry import Registry
from kaggle_kit.training.config import OptimizerConfig

OPTIMIZERS: Registry[Callable[..., keras.optimizers.Optimizer]] = Registry("optimizer", field="optimizer.name")


def build_optimizer(cfg: OptimizerConfig, lr: float) -> keras.optimizers.Optimizer:
    """The optimizer named by `cfg.name` at learning rate `lr` (resolve `cfg.lr == "finder"` before calling)."""
    if not isinstance(lr, (int, float)) or lr <= 0:
        raise ConfigError(f"optimizer.lr must be a positive number here, got {lr!r}")
    if cfg.weight_decay < 0:
        raise ConfigError(f"optimizer.weight_decay must be >= 0, got {cfg.weight_decay}")
    common = {"learning_rate": float(lr), "weight_decay": cfg.weight_decay or None}
    if cfg.clipnorm is not None:
        common["clipnorm"] = cfg.clipnorm
    if cfg.ema is not None:
        common.update(use_ema=True, ema_momentum=float(cfg.ema))
    return OPTIMIZERS.get(cfg.name)(cfg, **common)


@OPTIMIZERS.register("adam")
def adam(cfg: OptimizerConfig, **common) -> keras.optimizers.Optimizer:
    """Adam."""
    return keras.optimizers.Adam(**common)


@OPTIMIZERS.register("nadam")
def nadam(cfg: OptimizerConfig, **common) -> keras.optimizers.Optimizer:
    """Adam with Nesterov momentum."""
    return keras.optimizers.Nadam(**common)


@OPTIMIZERS.register("rmsprop")
def rmsprop(cfg: OptimizerConfig, **common) -> keras.optimizers.Optimizer:
    """RMSprop."""
    return keras.optimizers.RMSprop(**common)


@OPTIMIZERS.register("sgd")
def sgd(cfg: OptimizerConfig, **common) -> keras.optimizers.Optimizer:
    """SGD with `momentum` (and `nesterov`)."""
    if not 0.0 <= cfg.momentum < 1.0:
        raise ConfigError(f"optimizer.momentum must be in [0, 1), got {cfg.momentum}")
    return keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
