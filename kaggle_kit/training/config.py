"""The training recipe: one typed config that says everything about how a run trains.

Recipes are TOML files (`kaggle_kit/recipes/<name>.toml`, or any file passed with `--config`), validated into
`RecipeConfig`. Command-line flags (`--epochs`, `--lr`, `--set optimizer.name=nadam`) are applied on top and
the resolved config is saved in the run folder.

Example:

    cfg = load_recipe("seed003")
    cfg = apply_overrides(cfg, ["epochs=2", "augment.rotation=15"])
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator

from kaggle_kit.config import KKConfig


class ExtraData(str, Enum):
    """What a run does with a competition's extra labelled files (e.g. Kannada-MNIST's Dig-MNIST.csv)."""

    IGNORE = "ignore"
    TRAIN = "train"  # added to every fold's training set
    HOLDOUT = "holdout"  # scored separately, as a hold-out set

    def __str__(self) -> str:
        return self.value


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]  # a probability, or a limit that is one at most
OpenFraction = Annotated[float, Field(ge=0.0, lt=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]


class ModelConfig(KKConfig):
    """An architecture from the model registry, by name, with its keyword parameters."""

    name: str = "kk_cnn"
    params: dict[str, Any] = Field(default_factory=dict)


class AugmentConfig(KKConfig):
    """Training-time augmentation. `backend` picks where it runs; the affine settings are shared by both.

    - `graph`: batched affine transform in the tf.data graph (runs on the accelerator's host or inside the model).
    - `albumentations`: per-image albumentations pipeline (adds grid distortion, brightness/contrast/gamma, crop).
    - `none`: no augmentation.
    """

    backend: Literal["none", "graph", "albumentations"] = "graph"
    rotation: float = Field(10.0, ge=0.0, le=180.0)  # degrees, uniform in [-rotation, rotation]
    shear: float = Field(0.0, ge=0.0, lt=90.0)  # degrees
    zoom: OpenFraction = 0.1  # relative, uniform in [1 - zoom, 1 + zoom]
    shift: OpenFraction = 0.1  # fraction of the image side
    p: Fraction = 1.0  # probability an image is transformed at all
    # albumentations back end only
    grid_distortion: Fraction = 0.0  # probability
    brightness_contrast: Fraction = 0.0  # limit for RandomBrightnessContrast, 0 = off
    gamma: OpenFraction = 0.0  # RandomGamma range (1 +- gamma), 0 = off
    random_crop: OpenFraction = 0.0  # fraction of the side cropped away before resizing back, 0 = off
    # added with the training engine
    interpolation: Literal["nearest", "bilinear"] = "bilinear"  # resampling of the affine transform (both back ends)
    # label-preserving only for some image kinds (clothes, textures: yes; digits, letters: no); both back ends
    hflip: Fraction = 0.0  # probability of a horizontal (left-right) flip
    erase: Fraction = 0.0  # probability of random erasing (cutout): one rectangle set to 0
    erase_size: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.4  # erased rectangle's sides: U(0.5, 1) x this x side


class LossConfig(KKConfig):
    name: Literal["categorical_crossentropy", "symmetric_cross_entropy"] = "categorical_crossentropy"
    label_smoothing: OpenFraction = 0.0
    alpha: float = Field(0.1, ge=0.0)  # symmetric CE: weight of the cross-entropy term
    beta: float = Field(1.0, ge=0.0)  # symmetric CE: weight of the reverse cross-entropy term


class OptimizerConfig(KKConfig):
    name: Literal["adam", "rmsprop", "sgd", "nadam"] = "adam"
    # A number, or "finder": take the learning rate suggested by the last `kk lr-find` for this competition.
    lr: Union[float, Literal["finder"]] = 1e-3
    momentum: OpenFraction = 0.9  # sgd only
    weight_decay: float = Field(0.0, ge=0.0)
    # added with the training engine
    nesterov: bool = False  # sgd only
    clipnorm: PositiveFloat | None = None  # clip each gradient's norm, None = off
    # Weight averaging (Polyak/EMA): the momentum of an exponential moving average of the weights, updated every
    # step inside the optimizer; validation, the best checkpoint and predictions use the average. None = off.
    ema: OpenFraction | None = None

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, lr: float | str) -> float | str:
        if lr != "finder" and not lr > 0:
            raise ValueError(f'must be a number > 0 or "finder", got {lr}')
        return lr


class ScheduleConfig(KKConfig):
    """Learning-rate schedule over epochs (`warmup_epochs` applies to cosine and one_cycle)."""

    name: Literal["constant", "step", "exponential", "plateau", "cosine", "one_cycle"] = "exponential"
    decay: float = Field(0.95, gt=0.0, le=1.0)  # exponential: lr * decay**epoch
    boundaries: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)  # step: epochs where the lr changes
    values: list[PositiveFloat] = Field(default_factory=list)  # step: lr before, between and after the boundaries
    factor: float = Field(0.5, gt=0.0, lt=1.0)  # plateau
    patience: int = Field(2, ge=0)  # plateau
    min_lr: float = Field(1e-6, ge=0.0)  # plateau, cosine floor
    warmup_epochs: float = Field(0.0, ge=0.0)
    # cosine / one_cycle: warm-up as a fraction of the run's length (used when warmup_epochs is 0), so it scales
    # with --epochs and with a --budget's planned (and replanned) length
    warmup_fraction: OpenFraction = 0.0
    # added with the training engine
    monitor: str = "val_loss"  # plateau: the metric watched (e.g. "val_accuracy"; mode follows the name)


class RecipeConfig(KKConfig):
    """Everything about how a run trains."""

    name: str = "default"
    description: str = ""
    model: ModelConfig = Field(default_factory=ModelConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    epochs: int = Field(10, ge=1)
    # Minutes of wall clock per fold (compile, epochs, validation, checkpoints, final predictions): the number of
    # epochs is planned from the measured speed and replanned as it changes; `epochs` is ignored.
    budget_minutes: PositiveFloat | None = None
    budget_max_epochs: int = Field(300, ge=1)  # a budget never plans more epochs than this
    # The invariance probe (kaggle_kit.training.probe): which augmentation families keep this competition's classes.
    # "auto" runs it when the recipe augments and the competition has at least 2,000 training rows.
    probe: Literal["off", "auto", "on"] = "off"
    # the probe's whole time (default: probe_share of a fold's budget, within 0.5-3 minutes; 1 minute without one)
    probe_minutes: PositiveFloat | None = None
    probe_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    probe_rows: int = Field(6000, ge=20)  # stratified sample of training rows the probe trains and validates on
    batch_size: int = Field(128, ge=1)
    folds: int = Field(5, ge=2)
    seed: int = Field(42, ge=0)
    limit: int | None = Field(None, ge=2)  # train on a stratified sample of this many rows
    # What to do with extra labelled files (e.g. Kannada-MNIST's Dig-MNIST.csv).
    extra_data: ExtraData = ExtraData.IGNORE
    # Pseudo-labelling: a finished run folder whose test_probs.npy (from `kk predict`) labels the test rows it is
    # at least `pseudo_threshold` sure of; those rows join every fold's training set (never a validation set).
    pseudo_label: str | None = None
    pseudo_threshold: Fraction = 0.99
    early_stopping: int | None = Field(None, ge=1)  # patience in epochs, None = off
    monitor: str = "val_accuracy"  # metric that picks the best checkpoint
    tta: int = Field(0, ge=0)  # default number of augmented test-time passes for `kk predict`
    mixed_precision: bool = False  # only takes effect on GPU
    deterministic: bool = False
