"""Fold trainers: what trains one fold of a run, registered by name (`FOLD_TRAINERS`).

A fold trainer is a class with `models` (the registry of the model names it trains), `device(recipe)` (the
line that says where it trains; it may start the accelerator) and `train_fold(...)`, which trains or resumes
one fold and writes its outputs with `results.write_fold_outputs`. `train_run` picks the one whose `models`
holds `recipe.model.name`: `keras` (`fold_keras`) for the architectures of `models`, `scikit-learn`
(`baselines`) for the classical baselines.

Example:

    trainer = FOLD_TRAINERS.get("scikit-learn")()
    result = trainer.train_fold(0, run_dir, recipe, competition.spec, data, PlainReporter())
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kaggle_kit.registry import Registry

if TYPE_CHECKING:
    from kaggle_kit.competition import CompetitionSpec
    from kaggle_kit.training.config import RecipeConfig
    from kaggle_kit.training.data import TrainData
    from kaggle_kit.training.reporting import Reporter
    from kaggle_kit.training.results import FoldResult


class FoldTrainer(Protocol):
    models: Registry

    def device(self, recipe: RecipeConfig) -> str:
        """Where the folds train (e.g. "1 GPU (mixed precision)"); called once, before the first fold trains."""

    def train_fold(self, fold: int, run_dir: Path, recipe: RecipeConfig, spec: CompetitionSpec, data: TrainData,
                   reporter: Reporter) -> FoldResult:
        """Train (or resume) `fold` into `run_dir/fold<fold>/`; `done.json` is written last."""


FOLD_TRAINERS: Registry[type[FoldTrainer]] = Registry("fold trainer")
