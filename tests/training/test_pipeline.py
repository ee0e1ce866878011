"""The tf.data input pipeline: uint8 batches, one-hot labels, every row once per epoch, seeded order, both
augmentation back ends mapped on batches. (Throughput is measured separately, not asserted here.)"""

from __future__ import annotations

import numpy as np

from kaggle_kit.training.config import AugmentConfig
from kaggle_kit.training.data import eval_dataset, one_hot, train_dataset


def _indexed_images(n=100):
    """Image i is filled with the value i, its label is i % 10: batches reveal which rows they hold."""
    x = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], 28 * 28, axis=1).reshape(n, 28, 28, 1)
    return x, np.arange(n) % 10


def _epoch(ds):
    xs, ys = zip(*[(xb.numpy(), yb.numpy()) for xb, yb in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_batches_are_uint8_one_hot_and_cover_every_row_once():
    x, y = _indexed_images(100)
    ds = train_dataset(x, y, num_classes=10, batch_size=32, augment=None, seed=0)
    sizes = [xb.shape[0] for xb, _ in ds]
    assert sizes == [32, 32, 32, 4]  # the last, smaller batch is kept: no row is dropped
    xe, ye = _epoch(ds)
    assert xe.dtype == np.uint8 and xe.shape == (100, 28, 28, 1)
    assert ye.dtype == np.float32 and ye.shape == (100, 10) and np.all(ye.sum(axis=1) == 1)
    rows = xe[:, 0, 0, 0].astype(int)
    assert sorted(rows.tolist()) == list(range(100))
    assert np.array_equal(np.argmax(ye, axis=1), rows % 10)  # labels travel with their images
    assert not np.array_equal(rows, np.arange(100))  # shuffled


def test_shuffle_is_seeded_and_reshuffled_each_epoch():
    x, y = _indexed_images(64)
    a = train_dataset(x, y, 10, 16, None, seed=5)
    b = train_dataset(x, y, 10, 16, None, seed=5)
    first_a, second_a = _epoch(a)[0][:, 0, 0, 0], _epoch(a)[0][:, 0, 0, 0]
    assert np.array_equal(first_a, _epoch(b)[0][:, 0, 0, 0])
    assert not np.array_equal(first_a, second_a)
    assert not np.array_equal(first_a, _epoch(train_dataset(x, y, 10, 16, None, seed=6))[0][:, 0, 0, 0])


def _digits(n=64):
    from kaggle_kit.sample_data import sample_digits

    x, y = sample_digits(0)
    return x[:n, :, :, None], y[:n]


def test_graph_augmentation_runs_on_batches_and_keeps_uint8():
    x, y = _digits()
    cfg = AugmentConfig(backend="graph", rotation=15, zoom=0.1, shift=0.1)
    ds = train_dataset(x, y, 10, 32, cfg, seed=0, shuffle=False)
    xe, ye = _epoch(ds)
    assert xe.dtype == np.uint8 and xe.shape == x.shape
    assert np.array_equal(np.argmax(ye, axis=1), y)
    changed = np.mean([not np.array_equal(a, b) for a, b in zip(xe, x)])
    assert changed > 0.9  # transformed...
    assert abs(float(xe.mean()) - float(x.mean())) < 0.35 * float(x.mean())  # ...but still digits, not noise


def test_graph_augmentation_is_seeded_and_new_every_epoch():
    x, y = _digits()
    cfg = AugmentConfig(backend="graph", rotation=15, zoom=0.1, shift=0.1)
    a = train_dataset(x, y, 10, 16, cfg, seed=3)
    b = train_dataset(x, y, 10, 16, cfg, seed=3)  # batches augmented in parallel: same draws regardless
    first = _epoch(a)[0]
    assert np.array_equal(first, _epoch(b)[0])
    assert not np.array_equal(first, _epoch(a)[0])


def test_albumentations_backend_through_numpy_function():
    x, y = _digits(40)
    cfg = AugmentConfig(backend="albumentations", rotation=10, zoom=0.1, shift=0.1, p=1.0)
    xe, ye = _epoch(train_dataset(x, y, 10, 16, cfg, seed=1, shuffle=False))
    assert xe.dtype == np.uint8 and xe.shape == x.shape
    assert np.mean([not np.array_equal(a, b) for a, b in zip(xe, x)]) > 0.9


def test_identity_augmentation_and_eval_dataset_are_exact():
    x, y = _digits(50)
    ident = AugmentConfig(backend="graph", rotation=0, zoom=0, shift=0, shear=0)
    xe, _ = _epoch(train_dataset(x, y, 10, 16, ident, seed=0, shuffle=False))
    assert np.array_equal(xe, x)
    xv, yv = _epoch(eval_dataset(x, y, 10, batch_size=16))
    assert np.array_equal(xv, x) and np.array_equal(yv, one_hot(y, 10))
    assert np.array_equal(np.concatenate([b.numpy() for b in eval_dataset(x, batch_size=16)]), x)
