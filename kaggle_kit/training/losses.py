"""Losses. Labels reaching the loss are one-hot float32 `(batch, classes)`; predictions are probabilities.

- `categorical_crossentropy`: Keras' categorical CE with optional label smoothing
  (`y_true * (1 - s) + s / classes`).
- `symmetric_cross_entropy`: Wang et al. 2019 (used in notebook 001), robust to noisy labels:
  `alpha * CE(y_true, y_pred) + beta * CE(y_pred, y_true)`; both distributions are clipped to `[epsilon, 1]`
  before the log, so the reverse term's `log 0` becomes `log epsilon`.

Example:
    >>> from kaggle_kit.training.config import LossConfig
    >>> loss = build_loss(LossConfig(name="symmetric_cross_entropy", alpha=0.1, beta=1.0))
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from kaggle_kit.errors import ConfigError
from kaggle_kit.registry import Registry
from kaggle_kit.training.config import LossConfig


def smooth_labels(y_true, label_smoothing: float):
    """`y * (1 - s) + s / classes` (what Keras' categorical CE does with `label_smoothing=s`)."""
    if not label_smoothing:
        return y_true
    classes = ops.cast(ops.shape(y_true)[-1], y_true.dtype)
    return y_true * (1.0 - label_smoothing) + label_smoothing / classes


@keras.saving.register_keras_serializable(package="kaggle_kit")
class SymmetricCrossEntropy(keras.losses.Loss):
    """`alpha * CE + beta * reverse CE`, per sample, averaged over the batch by Keras' reduction.

    Example:
        >>> import numpy as np
        >>> loss = SymmetricCrossEntropy(alpha=1.0, beta=1.0)
        >>> float(loss(np.eye(3, dtype="float32"), np.full((3, 3), 1 / 3, "float32")))  # doctest: +ELLIPSIS
        11.84...
    """

    def __init__(
        self,
        alpha: float = 0.1,
        beta: float = 1.0,
        label_smoothing: float = 0.0,
        epsilon: float = 1e-7,
        name: str = "symmetric_cross_entropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.label_smoothing = float(label_smoothing)
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = smooth_labels(ops.cast(y_true, "float32"), self.label_smoothing)
        ce = -ops.sum(y_true * ops.log(ops.clip(y_pred, self.epsilon, 1.0)), axis=-1)
        rce = -ops.sum(y_pred * ops.log(ops.clip(y_true, self.epsilon, 1.0)), axis=-1)
        return self.alpha * ce + self.beta * rce

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "beta": self.beta,
            "label_smoothing": self.label_smoothing,
            "epsilon": self.epsilon,
        }


LOSSES: Registry[Callable[[LossConfig], keras.losses.Loss]] = Registry("loss", field="loss.name")


def build_loss(cfg: LossConfig) -> keras.losses.Loss:
    """The loss named by `cfg.name` (see the module docstring)."""
    if not 0.0 <= cfg.label_smoothing < 1.0:
        raise ConfigError(f"loss.label_smoothing must be in [0, 1), got {cfg.label_smoothing}")
    return LOSSES.get(cfg.name)(cfg)


@LOSSES.register("categorical_crossentropy")
def categorical_crossentropy(cfg: LossConfig) -> keras.losses.Loss:
    """Categorical cross entropy, with optional label smoothing."""
    return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)


@LOSSES.register("symmetric_cross_entropy")
def symmetric_cross_entropy(cfg: LossConfig) -> keras.losses.Loss:
    """Symmetric cross entropy (Wang et al. 2019): alpha * CE + beta * reverse CE, robust to noisy labels."""
    if cfg.alpha < 0 or cfg.beta < 0 or cfg.alpha + cfg.beta == 0:
        raise ConfigError(f"loss.alpha/beta must be >= 0 and not both 0, got {cfg.alpha}/{cfg.beta}")
    return SymmetricCrossEntropy(cfg.alpha, cfg.beta, label_smoothing=cfg.label_smoothing)
