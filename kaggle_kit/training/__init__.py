"""The training engine: recipes, models, augmentation, losses, schedules, devices, LR finder, trainer.

Kept free of heavy imports (TensorFlow loads only when a submodule that needs it is imported), so
`import kaggle_kit.training` and the recipe config stay fast for the CLI.

Modules: building blocks `config` (recipe schema), `models` (registry), `layers`, `losses`, `optimizers`,
`schedules`, `augment`, `strategy`, `lr_finder` (+ `lr_find_run`); the engine `recipes`, `folds`, `data` (rows,
folds and input pipeline), `trainer` (the K-fold run), `rundir` (a run's identity, resume checks),
`fold_trainers` (registry) with `fold_keras` (Keras folds, resumable) and `baselines` (scikit-learn folds),
`callbacks` (per-epoch checkpoint), `results` (fold/run results and outputs), `reporting` (progress), `runs`
(run folders, manifest), `metrics`, `plots`, `predict` (ensemble + TTA); `budget` (time budgets: epochs planned
from measured speed and replanned), `probe` (which augmentation families keep a competition's classes), `blend` (several
runs' test probabilities weighted by their out-of-fold fit).
Everything a recipe names is looked up in a `kaggle_kit.registry.Registry`; `components()` lists them all.

Custom Keras objects are registered under the package `kaggle_kit`; call `register_custom_objects()` (or import
`kaggle_kit.training.layers`, `.losses`, `.augment`) before `keras.models.load_model`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    """One registered component: its kind, the recipe field that names it, its name, and what it is."""

    kind: str
    field: str
    name: str
    description: str


def components() -> list[Component]:
    """Every component a recipe can name, from the registries (loads TensorFlow: the Keras ones register on import).

    Example:

        [c.name for c in components() if c.kind == "loss"]  # ['categorical_crossentropy', 'symmetric_cross_entropy']
    """
    from kaggle_kit.training.baselines import BASELINE_MODELS
    from kaggle_kit.training.data import AUGMENTATIONS
    from kaggle_kit.training.fold_trainers import FOLD_TRAINERS
    from kaggle_kit.training.losses import LOSSES
    from kaggle_kit.training.models import MODELS
    from kaggle_kit.training.optimizers import OPTIMIZERS
    from kaggle_kit.training.schedules import SCHEDULES
    from kaggle_kit.training.trainer import fold_trainer_for  # noqa: F401  (importing registers the fold trainers)

    registries = (MODELS, BASELINE_MODELS, LOSSES, OPTIMIZERS, SCHEDULES, AUGMENTATIONS, FOLD_TRAINERS)
    return [Component(r.kind, r.field, n, r.describe(n)) for r in registries for n in r.names()]


def register_custom_objects() -> None:
    """Import the modules that register kaggle-kit's Keras layers and losses (needed before loading `.keras`)."""
    from kaggle_kit.training import augment, layers, losses  # noqa: F401
