"""What a run trains on: `prepare_data` draws the rows and folds (`TrainData`), and the tf.data input pipeline
turns in-memory `uint8` images into shuffled, augmented, one-hot batches.

Why it is fast: the images stay `uint8` in one tensor (models scale inside the graph, so no float copy of
the set ever exists); the pipeline shuffles and batches row *indices*, gathers a whole batch in one op,
then augments whole batches (graph back end: one batched affine transform; albumentations back end: a
`numpy_function` mapped with parallel calls) and prefetches, so the next batch is ready before the model
asks for it.

Example (TensorFlow loads on the first dataset built):

    data = prepare_data(Competition.open("datasets/digit-recognizer"), load_recipe("default"))
    x_tr, y_tr, x_va, y_va, va_rows = data.fold_arrays(0)
    ds = train_dataset(x_tr, y_tr, num_classes=10, batch_size=128, augment=AugmentConfig(), seed=0)
    xb, yb = next(iter(ds))  # uint8 (128, 28, 28, 1), float32 one-hot (128, 10)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kaggle_kit.registry import Registry
from kaggle_kit.training.config import AugmentConfig, ExtraData, RecipeConfig
from kaggle_kit.training.folds import FoldAssignment, assign_folds, stratified_sample

if TYPE_CHECKING:
    from kaggle_kit.competition import Competition


def _tf():
    import tensorflow as tf

    return tf


AUGMENTATIONS: Registry[Callable[..., Callable | None]] = Registry("augmentation back end", field="augment.backend")


def batch_augment_fn(cfg: AugmentConfig | None, image_shape: tuple[int, int, int], seed: int | None = None
                     ) -> Callable | None:
    """A function `aug(images, batch_seed) -> images` (uint8 batches) for `cfg`'s back end; None = no augmentation.

    Graph back end: `batch_seed` (a `[2]` int64 tensor) makes each batch's draw stateless, so the result does
    not depend on how many batches are augmented in parallel. Albumentations back end: seeded once with `seed`
    (repeatable when the map runs sequentially, as `deterministic=True` makes it).
    """
    if cfg is None:
        return None
    return AUGMENTATIONS.get(cfg.backend)(cfg, image_shape, seed)


@AUGMENTATIONS.register("none")
def no_augmentation(cfg: AugmentConfig, image_shape: tuple[int, int, int], seed: int | None = None) -> None:
    """No augmentation."""
    return None


@AUGMENTATIONS.register("graph")
def graph_augmentation(cfg: AugmentConfig, image_shape: tuple[int, int, int], seed: int | None = None) -> Callable:
    """One batched affine transform (rotation, shear, zoom, shift) inside the tf.data graph."""
    from kaggle_kit.training.augment import make_graph_augment

    tf = _tf()
    graph = make_graph_augment(cfg, image_shape, seed=seed)

    def run_graph(x, batch_seed=None):
        y = graph(x, seed=batch_seed)
        if y.dtype != tf.uint8:  # keep 1 byte per pixel up to the model, whatever the transform returns
            y = tf.saturate_cast(tf.round(y), tf.uint8) if y.dtype.is_floating else tf.cast(y, tf.uint8)
        return y

    return run_graph


@AUGMENTATIONS.register("albumentations")
def albumentations_augmentation(cfg: AugmentConfig, image_shape: tuple[int, int, int], seed: int | None = None
                                ) -> Callable:
    """A per-image albumentations pipeline (affine, grid distortion, brightness/contrast, gamma, crop)."""
    from kaggle_kit.training.augment import make_albumentations_augment

    tf = _tf()
    numpy_fn = make_albumentations_augment(cfg, image_shape, seed=seed)

    def run_numpy(x, batch_seed=None):
        y = tf.numpy_function(lambda a: np.ascontiguousarray(numpy_fn(a), dtype=np.uint8), [x], tf.uint8,
                              stateful=True)
        y.set_shape(x.shape)
        return y

    return run_numpy


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Float32 one-hot rows (what the losses expect)."""
    out = np.zeros((len(labels), num_classes), np.float32)
    out[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)] = 1.0
    return out


def train_dataset(images: np.ndarray, labels: np.ndarray, num_classes: int, batch_size: int,
                  augment: AugmentConfig | None = None, seed: int = 0, shuffle: bool = True,
                  deterministic: bool = False, drop_remainder: bool = False):
    """Batches `(uint8 images, one-hot float32 labels)` for one pass over the data (Keras repeats per epoch).

    Reshuffled every epoch (seeded); the last batch may be smaller unless `drop_remainder` (static shapes for a
    data-parallel mesh: each epoch's reshuffle drops different rows, so none is left out for good).
    """
    tf = _tf()
    images = np.ascontiguousarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"train_dataset expects uint8 images, got {images.dtype}")
    n = len(images)
    x = tf.convert_to_tensor(images)
    y = tf.convert_to_tensor(np.asarray(labels, dtype=np.int32))
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    aug = batch_augment_fn(augment, tuple(images.shape[1:]), seed=seed)

    def gather(idx):
        xb, yb = tf.gather(x, idx), tf.one_hot(tf.gather(y, idx), num_classes, dtype=tf.float32)
        return (xb, yb) if aug is None else (xb, yb, idx)

    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if aug is not None:
        base = tf.constant(int(seed), tf.int64)

        def augment_batch(xb, yb, idx):
            # The batch's own rows name its random draw: a new batch (every epoch reshuffles) gets new draws,
            # and the same seed gives the same run whatever the parallelism.
            idx = tf.cast(idx, tf.int64)
            return aug(xb, tf.stack([base, idx[0] * n + idx[-1]])), yb

        # Albumentations draws from one shared pipeline: sequential when determinism is asked for.
        parallel = None if deterministic and augment.backend == "albumentations" else tf.data.AUTOTUNE
        ds = ds.map(augment_batch, num_parallel_calls=parallel, deterministic=True)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return _with_options(ds, deterministic)


def eval_dataset(images: np.ndarray, labels: np.ndarray | None = None, num_classes: int | None = None,
                 batch_size: int = 256, pad_to: int = 1):
    """Batches in row order, no augmentation: `(images, one-hot)` with labels, else `images` alone.

    `pad_to` > 1 (a data-parallel mesh, where every batch must split evenly over the devices): the rows are
    padded with copies of the last one up to a multiple of it, and labelled batches carry a sample weight
    that is 0 on the copies, so metrics count every real row once and no copy.
    """
    tf = _tf()
    images = np.ascontiguousarray(images)
    n = len(images)
    x = tf.convert_to_tensor(images)
    padded = n + (-n % pad_to if pad_to > 1 else 0)
    ds = tf.data.Dataset.range(padded).batch(batch_size)
    last = tf.constant(max(n - 1, 0), tf.int64)

    def rows(idx):
        return tf.minimum(idx, last)

    if labels is None:
        ds = ds.map(lambda idx: tf.gather(x, rows(idx)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        y = tf.convert_to_tensor(np.asarray(labels, dtype=np.int32))

        def labelled(idx):
            xb, yb = tf.gather(x, rows(idx)), tf.one_hot(tf.gather(y, rows(idx)), num_classes, dtype=tf.float32)
            return (xb, yb) if padded == n else (xb, yb, tf.cast(idx < n, tf.float32))

        ds = ds.map(labelled, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _with_options(ds.prefetch(tf.data.AUTOTUNE), True)


def _with_options(ds, deterministic: bool):
    tf = _tf()
    opts = tf.data.Options()
    opts.deterministic = bool(deterministic)
    # Datasets are fed one batch per step; sharding by data (not by file) is what in-memory arrays allow.
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(opts)


def predict_probs(model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Model probabilities `(N, K)` float32 for uint8 images, batched without augmentation.

    On a data-parallel mesh every batch, the last one too, is made to split evenly over the devices (padded;
    the padding's outputs are cut)."""
    if len(images) == 0:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    replicas = data_parallel_replicas()
    if replicas > 1:
        batch_size = -(-batch_size // replicas) * replicas
    probs = model.predict(eval_dataset(images, batch_size=batch_size, pad_to=replicas), verbose=0)
    return np.asarray(probs, dtype=np.float32)[:len(images)]


def data_parallel_replicas() -> int:
    """Devices a `keras.distribution` splits each batch over (1 when none is set: on TensorFlow, where a
    tf.distribute strategy splits batches itself, uneven ones included)."""
    import keras

    dist = keras.distribution.distribution()
    mesh = getattr(dist, "device_mesh", None)
    return int(np.prod(mesh.shape)) if mesh is not None else 1


# ---- the rows a run trains on ------------------------------------------------------------------------------------

@dataclass
class TrainData:
    """The arrays a run trains on: training images/labels, the fold assignment, and extra labelled data."""

    images: np.ndarray
    labels: np.ndarray
    assignment: FoldAssignment
    extra_images: np.ndarray | None = None
    extra_labels: np.ndarray | None = None
    extra_name: str | None = None
    extra_mode: ExtraData = ExtraData.IGNORE
    notes: list[str] = field(default_factory=list)
    pseudo_images: np.ndarray | None = None  # confidently predicted test rows (pseudo-labelling), training only
    pseudo_labels: np.ndarray | None = None

    def fold_arrays(self, fold: int):
        """(x_train, y_train, x_val, y_val, val_rows) for `fold`; extra rows join training in `extra_mode=train`."""
        tr, va = self.assignment.train_rows(fold), self.assignment.val_rows(fold)
        x_tr, y_tr = self.images[tr], self.labels[tr]
        if self.extra_mode is ExtraData.TRAIN and self.extra_images is not None:
            x_tr = np.concatenate([x_tr, self.extra_images])
            y_tr = np.concatenate([y_tr, self.extra_labels])
        if self.pseudo_images is not None and len(self.pseudo_images):
            x_tr = np.concatenate([x_tr, self.pseudo_images])
            y_tr = np.concatenate([y_tr, self.pseudo_labels])
        return x_tr, y_tr, self.images[va], self.labels[va], va

    @property
    def holdout(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.extra_mode is ExtraData.HOLDOUT and self.extra_images is not None:
            return self.extra_images, self.extra_labels
        return None


def prepare_data(competition: Competition, recipe: RecipeConfig) -> TrainData:
    """Load the training arrays, draw the `limit` sample and the K-fold assignment, and load extra labelled files."""
    x, y = competition.train_arrays()
    rows = stratified_sample(y, recipe.limit, recipe.seed) if recipe.limit else None
    assignment = assign_folds(y, recipe.folds, recipe.seed, rows=rows)
    data = TrainData(images=x, labels=y, assignment=assignment, extra_mode=ExtraData(recipe.extra_data))
    if recipe.extra_data is not ExtraData.IGNORE:
        names = list(competition.spec.extra_labelled)
        if not names:
            data.notes.append(f"extra_data={recipe.extra_data.value!r}: this competition has no extra labelled file; "
                              f"training on {competition.spec.train_file} only")
            data.extra_mode = ExtraData.IGNORE
        else:
            parts = [competition.extra_arrays(n) for n in names]
            xe = np.concatenate([p[0] for p in parts])
            ye = np.concatenate([p[1] for p in parts])
            if recipe.limit and len(xe) > recipe.limit:
                keep = stratified_sample(ye, recipe.limit, recipe.seed + 1)
                xe, ye = xe[keep], ye[keep]
            data.extra_images, data.extra_labels, data.extra_name = xe, ye, "+".join(names)
            data.notes.append(f"extra data {data.extra_name} ({len(xe)} rows): "
                              + ("added to every fold's training set" if recipe.extra_data is ExtraData.TRAIN
                                 else "scored separately as a hold-out"))
    if recipe.pseudo_label:
        data.pseudo_images, data.pseudo_labels, note = pseudo_labels(competition, recipe.pseudo_label,
                                                                     recipe.pseudo_threshold)
        data.notes.append(note)
    return data


def pseudo_labels(competition: Competition, run_dir: str, threshold: float) -> tuple[np.ndarray, np.ndarray, str]:
    """(images, labels, note): the test rows a finished run predicted with probability >= `threshold`.

    The run's test probabilities come from models that saw every training row, this fold's validation rows
    included, so a pseudo-labelled run's CV accuracy may be slightly optimistic.
    """
    from pathlib import Path

    from kaggle_kit.errors import KKError

    path = Path(run_dir) / "test_probs.npy"
    if not path.is_file():
        raise KKError(f"pseudo_label: {path} not found; predict the test set with that run first: kk predict {run_dir}")
    probs = np.load(path)
    images = competition.test_images()
    if probs.shape != (len(images), competition.spec.num_classes):
        raise KKError(f"pseudo_label: {path} has shape {probs.shape}; this competition's test set needs "
                      f"({len(images)}, {competition.spec.num_classes})")
    keep = probs.max(axis=1) >= threshold
    note = (f"pseudo-labels: {int(keep.sum())} of {len(images)} test rows predicted with p >= {threshold:g} by "
            f"{run_dir} join every fold's training set")
    return images[keep], probs[keep].argmax(axis=1).astype(np.int64), note
