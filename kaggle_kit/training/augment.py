"""Training-time augmentation, two back ends behind one `AugmentConfig`.

**graph** (`cfg.backend == "graph"`): a batched affine transform in TensorFlow. Rotation, shear, zoom and shift
are combined into ONE projective matrix per image (`affine_matrices`) and applied with a single
`ImageProjectiveTransformV3` over the batch, so it runs in the tf.data graph (`make_graph_augment`) or inside
the model on the accelerator (`RandomAffine` layer, active only in training). Sampling, per image:
rotation ~ U(-rotation, rotation) degrees, x-shear ~ U(-shear, shear) degrees, isotropic zoom ~ U(1-zoom, 1+zoom),
shift ~ U(-shift, shift) x side for each axis, and the whole transform is applied with probability `p`
(else the identity). Pixels coming from outside the image are 0. Then, independently of `p`: a horizontal
flip with probability `hflip`, and random erasing with probability `erase` (one rectangle, sides
U(0.5, 1) x `erase_size` x the image side, centred uniformly, set to 0; `flip_and_erase`, written with
`keras.ops`). All magnitudes 0 is an exact identity.

**albumentations** (`cfg.backend == "albumentations"`): a per-image pipeline (`albumentations_pipeline`):
`Affine` with the same four ranges (probability `p`), `HorizontalFlip` (probability `hflip`), `CoarseDropout` (one
hole, probability `erase`), then, when enabled, `GridDistortion` (probability
`grid_distortion`), `RandomBrightnessContrast` (limit `brightness_contrast`), `RandomGamma` (100 x (1 +- gamma)),
and a random crop of `random_crop` of the side resized back (each of these three with probability 0.5).
`make_albumentations_augment` maps it over a numpy batch (wrap with `tf.numpy_function` in tf.data).

Images are `uint8 (B, H, W, C)` in and out for both back ends.

Example:

    from kaggle_kit.training.config import AugmentConfig
    cfg = AugmentConfig(rotation=10, zoom=0.1, shift=0.1)
    aug = make_graph_augment(cfg, (28, 28, 1), seed=0)
    ds = ds.batch(128).map(lambda x, y: (aug(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    out = augment_batch(images, cfg, seed=1)          # numpy in, numpy out (previews, TTA)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kaggle_kit.errors import ConfigError
from kaggle_kit.io import atomic_path
from kaggle_kit.training.config import AugmentConfig

AFFINE_FIELDS = ("rotation", "shear", "zoom", "shift", "p")
PHOTOMETRIC_P = 0.5  # probability of each albumentations extra (brightness/contrast, gamma, crop)


# ---- config checks ---------------------------------------------------------------------------------------------


def validate_augment(cfg: AugmentConfig) -> None:
    """Raise `ConfigError` naming the field whose value cannot work."""
    checks = {
        "hflip": 0 <= cfg.hflip <= 1,
        "erase": 0 <= cfg.erase <= 1,
        "erase_size": 0 < cfg.erase_size < 1,
        "rotation": 0 <= cfg.rotation <= 180,
        "shear": 0 <= cfg.shear < 90,
        "zoom": 0 <= cfg.zoom < 1,
        "shift": 0 <= cfg.shift < 1,
        "p": 0 <= cfg.p <= 1,
        "grid_distortion": 0 <= cfg.grid_distortion <= 1,
        "brightness_contrast": 0 <= cfg.brightness_contrast <= 1,
        "gamma": 0 <= cfg.gamma < 1,
        "random_crop": 0 <= cfg.random_crop < 1,
    }
    ranges = {"hflip": "[0, 1]", "erase": "[0, 1]", "erase_size": "(0, 1)", "rotation": "[0, 180]", "shear": "[0, 90)", "zoom": "[0, 1)", "shift": "[0, 1)", "p": "[0, 1]",
              "grid_distortion": "[0, 1]", "brightness_contrast": "[0, 1]", "gamma": "[0, 1)", "random_crop": "[0, 1)"}
    for field, ok in checks.items():
        if not ok:
            raise ConfigError(f"augment.{field} must be in {ranges[field]}, got {getattr(cfg, field)}")


def is_identity(cfg: AugmentConfig) -> bool:
    """True when the affine settings cannot change an image."""
    return cfg.p == 0 or cfg.rotation == cfg.shear == cfg.zoom == cfg.shift == 0


def changes_images(cfg: AugmentConfig) -> bool:
    """True when the graph back end can change an image (affine, flip or erasing)."""
    return not is_identity(cfg) or cfg.hflip > 0 or cfg.erase > 0


def flip_and_erase(images, u, hflip: float, erase: float, erase_size: float, ops=None):
    """Flip `images (B, H, W, C)` left-right where `u[:, 0] < hflip`, and zero one rectangle where `u[:, 1] < erase`.

    `u (B, 6)`: uniforms in [0, 1) (columns 2-5 place and size the rectangle). Written against `ops` (default
    `keras.ops`, the backend's: inside a model under JAX); a tf.data graph passes `TF_OPS`, because its tensors
    are TensorFlow's whatever Keras's backend is.

    Example:
        >>> import numpy as np
        >>> x = np.arange(4, dtype="float32").reshape(1, 1, 4, 1)
        >>> keras.ops.convert_to_numpy(flip_and_erase(x, np.zeros((1, 6), "float32"), 1.0, 0.0, 0.4))[0, 0, :, 0]
        array([3., 2., 1., 0.], dtype=float32)
    """
    ops = ops or keras.ops
    u = ops.cast(u, "float32")
    if hflip > 0:
        flip = ops.reshape(u[:, 0] < hflip, (-1, 1, 1, 1))
        images = ops.where(flip, ops.flip(images, axis=2), images)
    if erase > 0:
        height, width = int(images.shape[1]), int(images.shape[2])
        half_h = (0.5 + 0.5 * u[:, 2]) * (erase_size * height / 2.0)
        half_w = (0.5 + 0.5 * u[:, 3]) * (erase_size * width / 2.0)
        cy, cx = u[:, 4] * height, u[:, 5] * width
        ys = ops.reshape(ops.arange(height, dtype="float32") + 0.5, (1, height, 1))
        xs = ops.reshape(ops.arange(width, dtype="float32") + 0.5, (1, 1, width))
        inside = ops.logical_and(ops.abs(ys - ops.reshape(cy, (-1, 1, 1))) < ops.reshape(half_h, (-1, 1, 1)),
                                 ops.abs(xs - ops.reshape(cx, (-1, 1, 1))) < ops.reshape(half_w, (-1, 1, 1)))
        inside = ops.logical_and(inside, ops.reshape(u[:, 1] < erase, (-1, 1, 1)))
        images = ops.where(ops.expand_dims(inside, -1), ops.zeros_like(images), images)
    return images


# The subset of keras.ops that flip_and_erase uses, on TensorFlow tensors (tf.data runs TensorFlow under any backend).
TF_OPS = SimpleNamespace(cast=tf.cast, reshape=tf.reshape, where=tf.where, flip=lambda x, axis: tf.reverse(x, [axis]),
                         arange=lambda n, dtype: tf.range(n, dtype=dtype), abs=tf.abs, logical_and=tf.logical_and,
                         expand_dims=tf.expand_dims, zeros_like=tf.zeros_like)


# ---- graph back end --------------------------------------------------------------------------------------------


def _matrices_from_uniform(u, height: int, width: int, rotation, shear, zoom, shift, p):
    """(B, 8) output->input projective transforms from uniforms `u` (B, 6) in [0, 1)."""
    u = tf.cast(u, tf.float32)
    sym = 2.0 * u[:, :5] - 1.0  # U(-1, 1)
    angle = sym[:, 0] * (rotation * math.pi / 180.0)
    slant = tf.math.tan(sym[:, 1] * (shear * math.pi / 180.0))
    scale = 1.0 + sym[:, 2] * zoom
    tx = sym[:, 3] * (shift * width)
    ty = sym[:, 4] * (shift * height)
    cos, sin = tf.math.cos(angle), tf.math.sin(angle)
    # Forward map (input->output) about the centre: rotate . shear-x . zoom, then shift. Its inverse is
    # (1/zoom) [[cos + t sin, sin - t cos], [-sin, cos]] with t = tan(shear); the projective op wants output->input.
    m00 = (cos + slant * sin) / scale
    m01 = (sin - slant * cos) / scale
    m10 = -sin / scale
    m11 = cos / scale
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a2 = cx - (m00 * (cx + tx) + m01 * (cy + ty))
    b2 = cy - (m10 * (cx + tx) + m11 * (cy + ty))
    zeros = tf.zeros_like(m00)
    mats = tf.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)
    if p < 1:
        identity = tf.constant([[1, 0, 0, 0, 1, 0, 0, 0]], tf.float32)
        mats = tf.where((u[:, 5] < p)[:, None], mats, identity)
    return mats


def _uniform(shape, seed=None, generator: tf.random.Generator | None = None):
    if seed is not None:
        seed = tf.cast(tf.reshape(tf.convert_to_tensor(seed), [-1]), tf.int64)
        seed = tf.concat([seed, tf.zeros([2], tf.int64)], 0)[:2]  # an int seed becomes [seed, 0]
        return tf.random.stateless_uniform(shape, seed=seed)
    if generator is not None:
        return generator.uniform(shape)
    return tf.random.uniform(shape)


def affine_matrices(
    batch, image_size: tuple[int, int], cfg: AugmentConfig, seed=None, generator: tf.random.Generator | None = None
) -> tf.Tensor:
    """`(batch, 8)` float32 projective transforms (output -> input pixel coordinates), one random affine each.

    `seed` (an int or a `[2]` int tensor) makes the draw stateless and repeatable; otherwise `generator` (a
    `tf.random.Generator`), otherwise TensorFlow's global generator.
    """
    height, width = int(image_size[0]), int(image_size[1])
    u = _uniform(tf.stack([batch, 6]), seed=seed, generator=generator)
    return _matrices_from_uniform(u, height, width, cfg.rotation, cfg.shear, cfg.zoom, cfg.shift, cfg.p)


def apply_affine(images, matrices, interpolation: str = "bilinear") -> tf.Tensor:
    """Warp `images (B, H, W, C)` with `matrices (B, 8)`; fill 0; keeps dtype (uint8 is rounded back)."""
    images = tf.convert_to_tensor(images)
    dtype = images.dtype
    work = images if dtype.is_floating else tf.cast(images, tf.float32)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=work,
        transforms=tf.cast(matrices, tf.float32),
        output_shape=tf.shape(images)[1:3],
        fill_value=tf.constant(0.0, work.dtype) if work.dtype != tf.float32 else 0.0,
        interpolation=interpolation.upper(),
        fill_mode="CONSTANT",
    )
    if dtype.is_floating:
        return out
    return tf.cast(tf.clip_by_value(tf.round(out), dtype.min, dtype.max), dtype)


def make_graph_augment(
    cfg: AugmentConfig, image_shape: tuple[int, int, int], seed: int | None = None
) -> Callable[..., tf.Tensor]:
    """A function `aug(images, seed=None)` augmenting a batch `(B, H, W, C)` in the TensorFlow graph.

    Without a per-call `seed` the draws come from a `tf.random.Generator` seeded with `seed` (repeatable for a
    sequential pipeline). With a per-call `seed` (e.g. `tf.stack([epoch, batch_index])` from `ds.enumerate()`)
    the draw is stateless: identical whatever the parallelism. Identity settings return the input unchanged.
    """
    validate_augment(cfg)
    if not changes_images(cfg):
        return lambda images, seed=None: images
    height, width = int(image_shape[0]), int(image_shape[1])
    generator = tf.random.Generator.from_seed(seed) if seed is not None else tf.random.Generator.from_non_deterministic_state()
    flip_erase = cfg.hflip > 0 or cfg.erase > 0

    def aug(images, seed=None):
        images = tf.convert_to_tensor(images)
        out = images
        if not is_identity(cfg):
            mats = affine_matrices(tf.shape(images)[0], (height, width), cfg, seed=seed, generator=generator)
            out = tf.ensure_shape(apply_affine(images, mats, cfg.interpolation), images.shape)
        if flip_erase:
            # its own draw: a seed one step along from the affine's, so turning flips on leaves the affine alone
            fe_seed = None if seed is None else tf.cast(tf.reshape(seed, [-1])[:2], tf.int64) + tf.constant(
                [0, 1_000_003], tf.int64)
            u = _uniform(tf.stack([tf.shape(images)[0], 6]), seed=fe_seed, generator=generator)
            out = flip_and_erase(out, u, cfg.hflip, cfg.erase, cfg.erase_size, ops=TF_OPS)
        return tf.ensure_shape(out, images.shape)

    return aug


@keras.saving.register_keras_serializable(package="kaggle_kit")
class RandomAffine(keras.layers.Layer):
    """The graph back end as a Keras layer: random rotation/shear/zoom/shift in training, identity otherwise.

    Put it first in a model (on the `uint8` input) to run augmentation on the accelerator:

    Example:

        aug = RandomAffine.from_config_fields(AugmentConfig(rotation=10, shift=0.1))
        trainable = keras.Sequential([keras.Input((28, 28, 1), dtype="uint8"), aug, model])
    """

    def __init__(self, rotation=0.0, shear=0.0, zoom=0.0, shift=0.0, p=1.0, interpolation="bilinear", seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        validate_augment(AugmentConfig(rotation=rotation, shear=shear, zoom=zoom, shift=shift, p=p))
        self.rotation, self.shear, self.zoom, self.shift, self.p = (float(v) for v in (rotation, shear, zoom, shift, p))
        self.interpolation = interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._convert_input_args = False  # keep uint8 inputs as they are (no autocast)
        self.supports_masking = False

    @classmethod
    def from_config_fields(cls, cfg: AugmentConfig, seed: int | None = None, **kwargs) -> RandomAffine:
        return cls(cfg.rotation, cfg.shear, cfg.zoom, cfg.shift, cfg.p, cfg.interpolation, seed=seed, **kwargs)

    def call(self, inputs, training=None):
        if not training or (self.p == 0 or self.rotation == self.shear == self.zoom == self.shift == 0):
            return inputs
        shape = tf.shape(inputs)
        u = keras.random.uniform(tf.stack([shape[0], 6]), seed=self.seed_generator)
        mats = _matrices_from_uniform(u, inputs.shape[1], inputs.shape[2], self.rotation, self.shear, self.zoom,
                                      self.shift, self.p)
        return apply_affine(inputs, mats, self.interpolation)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "rotation": self.rotation, "shear": self.shear, "zoom": self.zoom,
                "shift": self.shift, "p": self.p, "interpolation": self.interpolation, "seed": self.seed}


# ---- albumentations back end -----------------------------------------------------------------------------------


def albumentations_pipeline(cfg: AugmentConfig, image_shape: tuple[int, ...] | None = None, seed: int | None = None):
    """The albumentations `Compose` for `cfg` (see the module docstring). `image_shape` is needed for the crop."""
    import albumentations as A
    import cv2

    validate_augment(cfg)
    interp = cv2.INTER_LINEAR if cfg.interpolation == "bilinear" else cv2.INTER_NEAREST
    steps: list[Any] = []
    if not is_identity(cfg):
        steps.append(
            A.Affine(
                scale=(1 - cfg.zoom, 1 + cfg.zoom),
                keep_ratio=True,
                translate_percent=(-cfg.shift, cfg.shift),
                rotate=(-cfg.rotation, cfg.rotation),
                shear={"x": (-cfg.shear, cfg.shear), "y": (0.0, 0.0)},
                interpolation=interp,
                border_mode=cv2.BORDER_CONSTANT,
                fill=0,
                p=cfg.p,
            )
        )
    if cfg.hflip > 0:
        steps.append(A.HorizontalFlip(p=cfg.hflip))
    if cfg.erase > 0:
        steps.append(A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(cfg.erase_size / 2, cfg.erase_size),
                                     hole_width_range=(cfg.erase_size / 2, cfg.erase_size), fill=0, p=cfg.erase))
    if cfg.grid_distortion > 0:
        steps.append(A.GridDistortion(interpolation=interp, border_mode=cv2.BORDER_CONSTANT, fill=0,
                                      p=cfg.grid_distortion))
    if cfg.brightness_contrast > 0:
        steps.append(A.RandomBrightnessContrast(cfg.brightness_contrast, cfg.brightness_contrast, p=PHOTOMETRIC_P))
    if cfg.gamma > 0:
        steps.append(A.RandomGamma(gamma_limit=(100 * (1 - cfg.gamma), 100 * (1 + cfg.gamma)), p=PHOTOMETRIC_P))
    if cfg.random_crop > 0:
        if image_shape is None:
            raise ValueError("albumentations_pipeline: image_shape is needed when augment.random_crop > 0")
        h, w = int(image_shape[0]), int(image_shape[1])
        ch, cw = max(1, round(h * (1 - cfg.random_crop))), max(1, round(w * (1 - cfg.random_crop)))
        steps.append(A.Sequential([A.RandomCrop(ch, cw), A.Resize(h, w, interpolation=interp)], p=PHOTOMETRIC_P))
    return A.Compose(steps, seed=seed)


def make_albumentations_augment(
    cfg: AugmentConfig, image_shape: tuple[int, int, int], seed: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping a `uint8 (B, H, W, C)` numpy batch through the albumentations pipeline, image by image.

    In tf.data: `tf.numpy_function(aug, [x], tf.uint8)` then `tf.ensure_shape`.
    """
    pipeline = albumentations_pipeline(cfg, image_shape, seed=seed)
    shape = tuple(int(s) for s in image_shape)

    def aug(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        out = np.empty_like(images)
        for i, img in enumerate(images):
            # cv2 drops a trailing channel of 1; put it back
            out[i] = pipeline(image=img)["image"].reshape(shape)
        return out

    return aug


# ---- numpy conveniences ----------------------------------------------------------------------------------------


def augment_batch(images: np.ndarray, cfg: AugmentConfig, seed: int = 0) -> np.ndarray:
    """Augment a numpy `uint8` batch `(B, H, W, C)` (or `(B, H, W)`) with the back end `cfg.backend` selects.

    Repeatable: the same `seed` gives the same images. Used by previews and test-time augmentation.
    """
    images = np.asarray(images)
    squeeze = images.ndim == 3
    batch = images[..., None] if squeeze else images
    if batch.ndim != 4:
        raise ValueError(f"augment_batch: expected (B, H, W[, C]) images, got shape {images.shape}")
    if cfg.backend == "none" or len(batch) == 0:
        out = batch.copy()
    elif cfg.backend == "graph":
        aug = make_graph_augment(cfg, batch.shape[1:])
        out = np.asarray(aug(tf.constant(batch), seed=[int(seed), 0]))
    else:
        out = make_albumentations_augment(cfg, batch.shape[1:], seed=int(seed))(batch)
    return out[..., 0] if squeeze else out


def preview_grid(images: np.ndarray, cfg: AugmentConfig, path, n_variants: int = 8, seed: int = 0) -> Path:
    """A PNG grid: one row per sample, the original in the first column, then `n_variants` augmented versions.

    Written atomically; returns the path.
    """
    from matplotlib.figure import Figure

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    rows, cols = len(images), n_variants + 1
    variants = [augment_batch(images, cfg, seed=seed + k) for k in range(n_variants)]
    fig = Figure(figsize=(1.1 * cols, 1.1 * rows + 0.4), dpi=100)
    title = "original | " + (f"{cfg.backend}: rotation {cfg.rotation:g}, shear {cfg.shear:g}, zoom {cfg.zoom:g}, "
                             f"shift {cfg.shift:g}, p {cfg.p:g}")
    fig.suptitle(title, fontsize=8)
    for r in range(rows):
        for c in range(cols):
            ax = fig.add_subplot(rows, cols, r * cols + c + 1)
            img = images[r] if c == 0 else variants[c - 1][r]
            if img.shape[-1] == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255)
            else:
                ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                for side in ax.spines.values():
                    side.set_color("tab:red")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return path
