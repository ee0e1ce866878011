"""Augmentation: both back ends keep shape/dtype, identity is exact, real settings change images."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kaggle_kit.config import from_dict
from kaggle_kit.errors import ConfigError
from kaggle_kit.sample_data import sample_digits
from kaggle_kit.training.augment import (
    RandomAffine,
    affine_matrices,
    albumentations_pipeline,
    apply_affine,
    augment_batch,
    make_albumentations_augment,
    make_graph_augment,
    preview_grid,
)
from kaggle_kit.training.config import AugmentConfig

STRONG = dict(rotation=15, shear=10, zoom=0.15, shift=0.1)
ZERO = dict(rotation=0, shear=0, zoom=0, shift=0)


@pytest.fixture(scope="module")
def digits():
    images, _ = sample_digits()
    return images[:64, :, :, None]


def test_graph_identity_is_exact(digits):
    for interpolation in ("bilinear", "nearest"):
        cfg = AugmentConfig(**ZERO, interpolation=interpolation)
        mats = affine_matrices(len(digits), (28, 28), cfg, seed=3)
        np.testing.assert_array_equal(mats.numpy(), np.tile([[1, 0, 0, 0, 1, 0, 0, 0]], (len(digits), 1)))
        out = apply_affine(tf.constant(digits), mats, interpolation)  # through the transform op itself
        assert out.dtype == tf.uint8
        np.testing.assert_array_equal(out.numpy(), digits)
        np.testing.assert_array_equal(make_graph_augment(cfg, (28, 28, 1), seed=0)(tf.constant(digits)), digits)
    never = AugmentConfig(**STRONG, p=0.0)
    np.testing.assert_array_equal(augment_batch(digits, never, seed=1), digits)


def test_graph_augment_keeps_shape_dtype_and_changes_images(digits):
    aug = make_graph_augment(AugmentConfig(**STRONG), (28, 28, 1), seed=0)
    out = aug(tf.constant(digits))
    assert out.dtype == tf.uint8 and tuple(out.shape) == digits.shape
    changed = [not np.array_equal(a, b) for a, b in zip(out.numpy(), digits)]
    assert all(changed)
    # ink is moved, not created: total intensity stays within the zoom's area change (+-~35%)
    ratio = out.numpy().astype(float).sum((1, 2, 3)) / digits.astype(float).sum((1, 2, 3))
    assert np.all((ratio > 0.5) & (ratio < 1.5))
    floats = aug(tf.constant(digits, tf.float32) / 255.0)
    assert floats.dtype == tf.float32 and tuple(floats.shape) == digits.shape


def test_pure_shift_moves_pixels_by_the_expected_amount():
    img = np.zeros((1, 9, 9, 1), np.uint8)
    img[0, 4, 4, 0] = 200
    cfg = AugmentConfig(**{**ZERO, "shift": 0.25})
    mats = affine_matrices(64, (9, 9), cfg, seed=7).numpy()
    for m in mats[:5]:
        out = apply_affine(np.repeat(img, 1, 0), m[None], "nearest").numpy()[0, ..., 0]
        # output (x, y) reads input (x + a2, y + b2): the bright pixel lands at 4 - offset
        y, x = np.unravel_index(np.argmax(out), out.shape)
        assert (x, y) == (round(4 - m[2]), round(4 - m[5]))
        assert abs(m[2]) <= 0.25 * 9 + 1e-6 and abs(m[5]) <= 0.25 * 9 + 1e-6


def test_p_controls_the_fraction_transformed():
    mats = affine_matrices(2000, (28, 28), AugmentConfig(**STRONG, p=0.3), seed=5).numpy()
    untouched = np.all(mats == [1, 0, 0, 0, 1, 0, 0, 0], axis=1).mean()
    assert 0.64 < untouched < 0.76


def test_graph_augment_in_tf_data_is_repeatable_with_a_seed(digits):
    def run():
        aug = make_graph_augment(AugmentConfig(**STRONG), (28, 28, 1), seed=11)
        ds = tf.data.Dataset.from_tensor_slices(digits).batch(16).map(aug)
        return np.concatenate([b.numpy() for b in ds])

    first, second = run(), run()
    assert first.shape == digits.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)
    stateless = make_graph_augment(AugmentConfig(**STRONG), (28, 28, 1))
    ds = tf.data.Dataset.from_tensor_slices(digits).batch(16).enumerate()
    ds = ds.map(lambda i, x: stateless(x, seed=tf.stack([tf.constant(3, tf.int64), i])), num_parallel_calls=4)
    a = np.concatenate([b.numpy() for b in ds])
    b = np.concatenate([b.numpy() for b in ds])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, digits)


def test_random_affine_layer_trains_only(digits, tmp_path):
    layer = RandomAffine.from_config_fields(AugmentConfig(**STRONG), seed=1)
    x = tf.constant(digits)
    assert layer(x, training=False) is x
    out = layer(x, training=True)
    assert out.dtype == tf.uint8 and tuple(out.shape) == digits.shape
    assert not np.array_equal(out.numpy(), digits)
    # inside a saved model it survives the round trip and stays inactive at inference
    inputs = keras.Input((28, 28, 1), dtype="uint8")
    probs = keras.layers.Dense(3, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(layer(inputs)))
    )
    model = keras.Model(inputs, probs)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    labels = np.eye(3, dtype="float32")[np.arange(len(digits)) % 3]
    assert np.isfinite(model.fit(digits, labels, batch_size=32, epochs=1, verbose=0).history["loss"][0])
    model.save(tmp_path / "aug.keras")
    loaded = keras.models.load_model(tmp_path / "aug.keras")
    again = [lyr for lyr in loaded.layers if isinstance(lyr, RandomAffine)][0]
    assert (again.rotation, again.shear, again.zoom, again.shift) == (15, 10, 0.15, 0.1)
    np.testing.assert_allclose(loaded.predict(digits, verbose=0), model.predict(digits, verbose=0), atol=1e-6)


def test_albumentations_keeps_shape_dtype_and_changes_images(digits):
    cfg = AugmentConfig(backend="albumentations", **STRONG, grid_distortion=0.5, brightness_contrast=0.2,
                        gamma=0.2, random_crop=0.15)
    names = [type(t).__name__ for t in albumentations_pipeline(cfg, (28, 28, 1)).transforms]
    assert names == ["Affine", "GridDistortion", "RandomBrightnessContrast", "RandomGamma", "Sequential"]
    out = make_albumentations_augment(cfg, (28, 28, 1), seed=0)(digits)
    assert out.dtype == np.uint8 and out.shape == digits.shape
    assert np.mean([not np.array_equal(a, b) for a, b in zip(out, digits)]) > 0.9
    identity = AugmentConfig(backend="albumentations", **ZERO)
    np.testing.assert_array_equal(augment_batch(digits, identity, seed=0), digits)
    rgb = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    assert augment_batch(rgb, cfg, seed=1).shape == rgb.shape


def test_augment_batch_dispatches_and_is_repeatable(digits):
    for backend in ("graph", "albumentations"):
        cfg = AugmentConfig(backend=backend, **STRONG)
        a, b = augment_batch(digits, cfg, seed=4), augment_batch(digits, cfg, seed=4)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, augment_batch(digits, cfg, seed=5))
        assert augment_batch(digits[..., 0], cfg, seed=4).shape == digits.shape[:3]
    np.testing.assert_array_equal(augment_batch(digits, AugmentConfig(backend="none", **STRONG)), digits)


def test_preview_grid_writes_a_png(digits, tmp_path):
    path = preview_grid(digits[:3], AugmentConfig(**STRONG), tmp_path / "sub" / "preview.png", n_variants=4)
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        assert im.width > im.height > 100  # 5 columns, 3 rows
    assert [p.name for p in path.parent.iterdir()] == ["preview.png"]  # no temporary left behind


def test_bad_settings_name_the_field():
    # refused when the recipe loads, before anything is built
    with pytest.raises(ConfigError, match="augment: invalid configuration\n  zoom: Input should be less than 1"):
        from_dict({"zoom": 1.5}, AugmentConfig, source="augment")
    with pytest.raises(ConfigError, match="p: Input should be less than or equal to 1"):
        from_dict({"backend": "albumentations", "p": 2.0}, AugmentConfig, source="augment")


@pytest.mark.parametrize("backend", ["graph", "albumentations"])
def test_horizontal_flip_mirrors_images_left_right(digits, backend):
    x = digits[:64]
    always = augment_batch(x, AugmentConfig(backend=backend, **ZERO, hflip=1.0), seed=3)
    np.testing.assert_array_equal(always, x[:, :, ::-1])
    half = augment_batch(x, AugmentConfig(backend=backend, **ZERO, hflip=0.5), seed=3)
    flipped = np.array([np.array_equal(h, m) and not np.array_equal(h, o)
                        for h, m, o in zip(half, x[:, :, ::-1], x)])
    assert 0.2 < flipped.mean() < 0.8
    assert all(np.array_equal(h, o) or np.array_equal(h, m) for h, m, o in zip(half, x[:, :, ::-1], x))


@pytest.mark.parametrize("backend", ["graph", "albumentations"])
def test_random_erasing_zeroes_one_rectangle_and_leaves_the_rest(backend):
    x = np.full((32, 28, 28, 1), 200, np.uint8)
    out = augment_batch(x, AugmentConfig(backend=backend, **ZERO, erase=1.0, erase_size=0.4), seed=5)
    for img in out[..., 0]:
        zero = img == 0
        assert zero.any() and set(np.unique(img)) <= {0, 200}
        rows, cols = np.where(zero)
        box = zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.all()  # one solid rectangle
        assert box.shape[0] <= 0.4 * 28 + 1 and box.shape[1] <= 0.4 * 28 + 1
    none = augment_batch(x, AugmentConfig(backend="graph", **ZERO, erase=0.0), seed=5)
    np.testing.assert_array_equal(none, x)


def test_flip_and_erase_leave_the_affine_draw_alone(digits):
    x = digits[:16]
    base = augment_batch(x, AugmentConfig(**STRONG), seed=9)
    flipped = augment_batch(x, AugmentConfig(**STRONG, hflip=1.0), seed=9)
    np.testing.assert_array_equal(flipped, base[:, :, ::-1])


def test_flip_and_erase_run_inside_the_tf_data_pipeline(digits):
    from kaggle_kit.training.data import train_dataset

    cfg = AugmentConfig(**STRONG, hflip=0.5, erase=0.5)
    xb, yb = next(iter(train_dataset(digits[:64], np.arange(64) % 10, 10, 32, cfg, seed=1)))
    assert xb.shape == (32, 28, 28, 1) and xb.dtype == tf.uint8 and yb.shape == (32, 10)
