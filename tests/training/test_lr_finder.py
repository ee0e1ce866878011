"""LR range finder: the suggestion rule on synthetic curves, and a real sweep on a tiny model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from kaggle_kit.sample_data import sample_digits
from kaggle_kit.training.lr_finder import LRFinder, LRFinderResult, find_lr, plot_lr_finder, smooth, suggest_range


def _u_curve(n=400, steep_at=-3.0, noise=0.0, seed=0):
    """Loss vs lr: flat, a logistic descent steepest at 10**steep_at, then an explosive rise near 1e-1."""
    x = np.linspace(-7, 1, n)
    loss = 2.3 - 2.0 / (1 + np.exp(-3.0 * (x - steep_at))) + 0.02 * np.exp(4.0 * (x + 0.5))
    loss = loss + np.random.default_rng(seed).normal(0, noise, n)
    return 10**x, loss


def test_suggestion_on_a_clean_u_curve():
    lrs, loss = _u_curve()
    low, high, suggested = suggest_range(lrs, loss)
    assert abs(np.log10(low) - (-3.0)) < 0.05  # steepest descent of the logistic
    assert high == lrs[np.argmin(loss)] and 1e-3 < high < 1e0
    assert suggested == pytest.approx(max(low, high / 10))
    assert low <= suggested < high


def test_suggestion_on_a_noisy_smoothed_curve_and_other_positions():
    for steep in (-4.0, -2.5):
        lrs, loss = _u_curve(steep_at=steep, noise=0.05, seed=1)
        low, high, suggested = suggest_range(lrs, smooth(loss, beta=0.9))
        assert abs(np.log10(low) - steep) < 0.5
        assert low <= suggested < high


def test_degenerate_curves():
    lrs = np.logspace(-6, 0, 50)
    rising = np.linspace(1, 3, 50)
    assert suggest_range(lrs, rising) == (lrs[0], lrs[0], lrs[0])
    with pytest.raises(ValueError):
        suggest_range(lrs[:2], rising[:2])
    lrs2, loss = _u_curve()
    loss[300:] = np.nan  # divergence: only the finite prefix counts
    low, high, _ = suggest_range(lrs2, loss)
    assert high <= lrs2[299]


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((28, 28, 1), dtype="uint8"),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    return model


@pytest.fixture(scope="module")
def data():
    x, y = sample_digits()
    x, y = x[:512, :, :, None], keras.utils.to_categorical(y[:512], 10).astype("float32")
    return x, y


def test_finder_recovers_each_batch_loss(data):
    x, y = data
    model = _tiny()
    model.compile(optimizer=keras.optimizers.SGD(), loss="categorical_crossentropy")
    finder = LRFinder(min_lr=1e-12, max_lr=1e-11, steps=8)  # weights effectively frozen
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    model.fit(ds, epochs=1, steps_per_epoch=8, callbacks=[finder], verbose=0, shuffle=False)
    expected = [model.evaluate(xb, yb, verbose=0) for xb, yb in ds]
    np.testing.assert_allclose(finder.losses, expected, rtol=1e-4)
    np.testing.assert_allclose(np.diff(np.log(finder.lrs)), np.log(10) / 7, rtol=1e-9)


def test_find_lr_runs_restores_and_round_trips(data, tmp_path):
    x, y = data
    model = _tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(512, seed=0).batch(32)
    result = find_lr(model, ds, steps=120, min_lr=1e-5, max_lr=100.0)
    assert 10 < len(result.lrs) <= 120 and len(result.losses) == len(result.smoothed) == len(result.lrs)
    assert result.lrs[0] == pytest.approx(1e-5)
    assert result.diverged  # an lr of 100 blows Adam up
    assert 1e-5 < result.low <= result.suggested < result.high < 100
    # the loss really went down on the way to the minimum
    assert min(result.smoothed) < result.smoothed[0] - 0.3
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0

    again = LRFinderResult.load(result.save(tmp_path / "lr.json"))
    assert again.suggested == result.suggested and again.lrs == result.lrs and again.diverged
    png = plot_lr_finder(result, tmp_path / "lr.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
