"""Optimizers by name. The learning rate is a plain float (a variable inside the optimizer) so the schedule
callbacks of `schedules.py` and the LR finder can set it per step.

`weight_decay` is Keras 3's decoupled weight decay (AdamW-style), supported by every optimizer here; 0 = off.

Example:
    >>> from kaggle_kit.training.config import OptimizerConfig
    >>> opt = build_optimizer(OptimizerConfig(name="sgd", momentum=0.9), lr=0.01)
"""

from __future__ import annotations

import keras

from kaggle_kit.errors import ConfigError
from kaggle_kit.training.config import OptimizerConfig


def build_optimizer(cfg: OptimizerConfig, lr: float) -> keras.optimizers.Optimizer:
    """The optimizer named by `cfg.name` at learning rate `lr` (resolve `cfg.lr == "finder"` before calling)."""
    if not isinstance(lr, (int, float)) or lr <= 0:
        raise ConfigError(f"optimizer.lr must be a positive number here, got {lr!r}")
    if cfg.weight_decay < 0:
        raise ConfigError(f"optimizer.weight_decay must be >= 0, got {cfg.weight_decay}")
    common = {"learning_rate": float(lr), "weight_decay": cfg.weight_decay or None}
    if cfg.clipnorm is not None:
        common["clipnorm"] = cfg.clipnorm
    if cfg.name == "adam":
        return keras.optimizers.Adam(**common)
    if cfg.name == "nadam":
        return keras.optimizers.Nadam(**common)
    if cfg.name == "rmsprop":
        return keras.optimizers.RMSprop(**common)
    if cfg.name == "sgd":
        if not 0.0 <= cfg.momentum < 1.0:
            raise ConfigError(f"optimizer.momentum must be in [0, 1), got {cfg.momentum}")
        return keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    raise ConfigError(f"optimizer.name: unknown optimizer {cfg.name!r}")
