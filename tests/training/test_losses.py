"""Losses against a numpy reference; optimizers by name."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kaggle_kit.config import from_dict
from kaggle_kit.errors import ConfigError
from kaggle_kit.training.config import LossConfig, OptimizerConfig
from kaggle_kit.training.losses import SymmetricCrossEntropy, build_loss
from kaggle_kit.training.optimizers import build_optimizer


def _data(seed=0, n=16, k=10):
    rng = np.random.default_rng(seed)
    y_true = np.eye(k, dtype=np.float32)[rng.integers(0, k, n)]
    logits = rng.normal(size=(n, k)) * 3
    y_pred = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    y_pred[0] = np.eye(k)[(np.argmax(y_true[0]) + 1) % k]  # a hard wrong prediction exercises the clipping
    return y_true, y_pred


def _np_smooth(y, s):
    return y * (1 - s) + s / y.shape[1]


def _np_sce(y_true, y_pred, alpha, beta, s=0.0, eps=1e-7):
    t = _np_smooth(y_true, s)
    ce = -(t * np.log(np.clip(y_pred, eps, 1))).sum(1)
    rce = -(y_pred * np.log(np.clip(t, eps, 1))).sum(1)
    return float(np.mean(alpha * ce + beta * rce))


@pytest.mark.parametrize("alpha,beta,smoothing", [(0.1, 1.0, 0.0), (1.0, 1.0, 0.0), (0.5, 0.3, 0.1)])
def test_symmetric_cross_entropy_matches_numpy(alpha, beta, smoothing):
    y_true, y_pred = _data()
    loss = build_loss(LossConfig(name="symmetric_cross_entropy", alpha=alpha, beta=beta, label_smoothing=smoothing))
    assert isinstance(loss, SymmetricCrossEntropy)
    got = float(loss(y_true, y_pred))
    assert got == pytest.approx(_np_sce(y_true, y_pred, alpha, beta, smoothing), rel=1e-5)


def test_symmetric_cross_entropy_is_minimal_for_the_right_answer():
    y_true, _ = _data()
    loss = SymmetricCrossEntropy(alpha=0.1, beta=1.0)
    assert float(loss(y_true, y_true)) < 1e-5
    assert float(loss(y_true, np.full_like(y_true, 0.1))) > 1.0


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_numpy(smoothing):
    y_true, y_pred = _data(seed=3)
    loss = build_loss(LossConfig(name="categorical_crossentropy", label_smoothing=smoothing))
    t = _np_smooth(y_true, smoothing)
    ref = float(np.mean(-(t * np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))).sum(1)))
    assert float(loss(y_true, y_pred)) == pytest.approx(ref, rel=1e-5)


def test_symmetric_cross_entropy_serializes():
    loss = SymmetricCrossEntropy(alpha=0.3, beta=0.7, label_smoothing=0.05)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, SymmetricCrossEntropy)
    assert (again.alpha, again.beta, again.label_smoothing) == (0.3, 0.7, 0.05)


def test_bad_loss_settings_are_config_errors():
    with pytest.raises(ConfigError, match="label_smoothing: Input should be less than 1"):
        from_dict({"label_smoothing": 1.0}, LossConfig, source="loss")  # refused on loading
    with pytest.raises(ConfigError, match="alpha/beta"):
        build_loss(LossConfig(name="symmetric_cross_entropy", alpha=0.0, beta=0.0))


@pytest.mark.parametrize(
    "name,cls", [("adam", keras.optimizers.Adam), ("rmsprop", keras.optimizers.RMSprop),
                 ("sgd", keras.optimizers.SGD), ("nadam", keras.optimizers.Nadam)]
)
def test_optimizers_by_name(name, cls):
    opt = build_optimizer(OptimizerConfig(name=name, weight_decay=1e-4, momentum=0.8), lr=3e-4)
    assert isinstance(opt, cls)
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(3e-4)
    assert opt.weight_decay == pytest.approx(1e-4)
    if name == "sgd":
        assert opt.momentum == pytest.approx(0.8)
    with pytest.raises(ConfigError, match="optimizer.lr"):
        build_optimizer(OptimizerConfig(name=name), lr=0)
