"""The reference notebooks' input pipelines, rebuilt for Keras 3 so kk can be measured against them.

Each is the notebook's *design*, written here (nothing copied), feeding the same kk model:

- `idg_flow` (seeds 000/002/004): Keras' `ImageDataGenerator(...).flow(x, y)`. Keras 3 dropped it from the public
  `keras.preprocessing.image` namespace, but Keras 3.15 still ships the Keras 2 implementation as
  `keras.src.legacy.preprocessing.image.ImageDataGenerator`, re-exported as
  `tf.keras.preprocessing.image.ImageDataGenerator`: the very class the notebooks used (per-image Python loop,
  `scipy.ndimage.affine_transform` per image, float32 copy of the whole set). We use that class.
- `AlbumentationsSequence` (seed 001's `InputGenerator`): a `keras.utils.PyDataset` whose `__getitem__` loops
  over the batch in Python and calls an albumentations `Compose` per image, then `np.stack`s.
- `seed003_dataset` (seed 003): `tf.data.from_tensor_slices(...).map(per_image_affine).repeat().shuffle(4048)
  .batch(B).prefetch()`, where `per_image_affine` builds a 3x3 rotation . shear . zoom . shift matrix from normal
  draws, maps all destination pixel coordinates through it, and gathers the source pixels (nearest neighbour).
- `TTAWrapper` (seed 001): averages `model.predict` over a plain and `repeats` augmented `PyDataset`s
  (`predict_generator` became `predict` on a `PyDataset` in Keras 3).

kk models take uint8 pixels and divide by 255 inside the graph, so these pipelines emit pixel values 0..255
(the notebooks divided by 255 on the host: one vectorised multiply per batch, negligible next to the rest).
"""

from __future__ import annotations

import math

import numpy as np

# Seed notebooks' augmentation settings.
SEED002_IDG = dict(rotation_range=10, zoom_range=0.1, width_shift_range=0.1, height_shift_range=0.1)
SEED000_IDG = dict(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2, shear_range=10, zoom_range=0.2,
                   fill_mode="constant", cval=0)
SEED003_AFFINE = dict(rotation=5.0, shear=5.0, height_zoom=1.1, width_zoom=1.1, height_shift=1.0, width_shift=1.0)


def image_data_generator(**settings):
    """Keras 2's ImageDataGenerator as Keras 3.15 still ships it (see the module docstring)."""
    import tensorflow as tf

    return tf.keras.preprocessing.image.ImageDataGenerator(**settings)


def idg_flow(x_uint8: np.ndarray, y_onehot: np.ndarray, batch_size: int, settings: dict | None = None,
             shuffle: bool = True, seed: int = 0):
    """`ImageDataGenerator(**settings).flow(x, y)`: as in the notebooks, `flow` keeps a float32 copy of `x`."""
    gen = image_data_generator(**(settings or SEED002_IDG))
    return gen.flow(x_uint8.astype(np.float32), y_onehot, batch_size=batch_size, shuffle=shuffle, seed=seed)


def seed001_train_aug():
    """Notebook 001's training augmentation: ShiftScaleRotate(0.15, 0.2, 15, p=0.5), black border."""
    import albumentations as A

    return A.Compose([A.ShiftScaleRotate(shift_limit=0.15, scale_limit=0.2, rotate_limit=15.0, p=0.5,
                                         border_mode=0, fill=0)])


def seed001_tta_aug():
    """Notebook 001's TTA augmentation: ShiftScaleRotate(0.10, 0.1, 10), always applied."""
    import albumentations as A

    return A.Compose([A.ShiftScaleRotate(shift_limit=0.10, scale_limit=0.1, rotate_limit=10.0, p=1.0,
                                         border_mode=0, fill=0)])


def _pydataset_base():
    import keras

    return keras.utils.PyDataset


class AlbumentationsSequence(_pydataset_base()):
    """Seed 001's `InputGenerator` design: per-image albumentations in a Python loop inside `__getitem__`.

    `len = len(x) // batch_size` (the notebook drops the last partial batch); with `y` it yields
    `(images, labels)`, else images only.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray | None = None, aug=None, batch_size: int = 128, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.aug, self.batch_size = x, y, aug, batch_size
        self.indices = np.arange(len(x))

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def __getitem__(self, index: int):
        rows = self.indices[index * self.batch_size:(index + 1) * self.batch_size]
        images = []
        for i in rows:
            img = self.x[i]
            if self.aug is not None:
                img = self.aug(image=img)["image"].reshape(img.shape)
            images.append(img)
        batch = np.stack(images)
        if self.y is None:
            return (batch,)
        return batch, np.stack([self.y[i] for i in rows])


def _seed003_matrix(tf, rotation, shear, h_zoom, w_zoom, h_shift, w_shift):
    """3x3 destination->source index transform: rotation . shear . zoom . shift (angles in degrees)."""
    rot, sh = rotation * math.pi / 180.0, shear * math.pi / 180.0
    one, zero = tf.ones([1]), tf.zeros([1])
    c1, s1, c2, s2 = tf.cos(rot), tf.sin(rot), tf.cos(sh), tf.sin(sh)
    rotate = tf.reshape(tf.concat([c1, s1, zero, -s1, c1, zero, zero, zero, one], 0), (3, 3))
    shear_m = tf.reshape(tf.concat([one, s2, zero, zero, c2, zero, zero, zero, one], 0), (3, 3))
    zoom = tf.reshape(tf.concat([one / h_zoom, zero, zero, zero, one / w_zoom, zero, zero, zero, one], 0), (3, 3))
    shift = tf.reshape(tf.concat([one, zero, h_shift, zero, one, w_shift, zero, zero, one], 0), (3, 3))
    return rotate @ shear_m @ zoom @ shift


def seed003_per_image_affine(image_shape=(28, 28, 1), rotation=5.0, shear=5.0, height_zoom=1.1, width_zoom=1.1,
                             height_shift=1.0, width_shift=1.0):
    """Seed 003's per-image in-graph affine (normal draws, nearest neighbour, edge pixels clamped)."""
    import tensorflow as tf

    dim = int(image_shape[0])
    xdim = dim % 2
    # Destination pixel coordinates, centred, as a 3 x dim^2 homogeneous matrix (the same for every image).
    xs = tf.repeat(tf.range(dim // 2, -dim // 2, -1), dim)
    ys = tf.tile(tf.range(-dim // 2, dim // 2), [dim])
    dest = tf.cast(tf.stack([xs, ys, tf.ones([dim * dim], tf.int32)]), tf.float32)

    def transform(image, label):
        draw = lambda: tf.random.normal([1])  # noqa: E731
        m = _seed003_matrix(tf, rotation * draw(), shear * draw(), height_zoom + draw() / 10.0,
                            width_zoom + draw() / 10.0, height_shift * draw(), width_shift * draw())
        src = tf.cast(m @ dest, tf.int32)
        src = tf.clip_by_value(src, -dim // 2 + xdim + 1, dim // 2)
        idx = tf.stack([dim // 2 - src[0], dim // 2 - 1 + src[1]])
        out = tf.gather_nd(image, tf.transpose(idx))
        return tf.reshape(out, image_shape), label

    return transform


def seed003_dataset(x_uint8: np.ndarray, y_onehot: np.ndarray, batch_size: int, shuffle_buffer: int = 4048):
    """Seed 003's training dataset: per-image map, repeat, shuffle(4048), batch, prefetch (infinite)."""
    import tensorflow as tf

    fn = seed003_per_image_affine(tuple(x_uint8.shape[1:]), **SEED003_AFFINE)
    return (tf.data.Dataset.from_tensor_slices((x_uint8, y_onehot))
            .map(fn, num_parallel_calls=tf.data.AUTOTUNE)
            .repeat()
            .shuffle(shuffle_buffer)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE))


class TTAWrapper:
    """Seed 001's `tta_wrapper`: mean of `model.predict` over the plain and `repeats` augmented generators."""

    def __init__(self, model, normal_generator, aug_generator, repeats: int = 1):
        self.model, self.normal, self.aug, self.repeats = model, normal_generator, aug_generator, repeats

    def predict(self) -> np.ndarray:
        probs = self.model.predict(self.normal, verbose=0)
        for _ in range(self.repeats):
            probs += self.model.predict(self.aug, verbose=0)
        return probs / (self.repeats + 1)
