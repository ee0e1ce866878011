"""The training engine: recipes, models, augmentation, losses, schedules, devices, LR finder, trainer.

Kept free of heavy imports (TensorFlow loads only when a submodule that needs it is imported), so
`import kaggle_kit.training` and the recipe config stay fast for the CLI.

Modules: building blocks `config` (recipe schema), `models` (registry), `layers`, `losses`, `optimizers`,
`schedules`, `augment`, `strategy`, `lr_finder`; the engine `recipes`, `folds`, `data` (input pipeline),
`trainer` (K-fold runs, resume), `runs` (run folders, manifest), `metrics`, `plots`, `predict` (ensemble + TTA),
`baselines` (scikit-learn).

Custom Keras objects are registered under the package `kaggle_kit`; call `register_custom_objects()` (or import
`kaggle_kit.training.layers`, `.losses`, `.augment`) before `keras.models.load_model`.
"""

from __future__ import annotations


def register_custom_objects() -> None:
    """Import the modules that register kaggle-kit's Keras layers and losses (needed before loading `.keras`)."""
    from kaggle_kit.training import augment, layers, losses  # noqa: F401
