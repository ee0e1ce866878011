"""A run folder's identity: what it trains (run.json, config.toml, spec.json, folds.csv), and the checks that
make resuming safe.

`open_run` writes the identity files of a new run (run.json last, so its presence means the others are
complete), or checks that an existing run folder matches the recipe, competition and data before anything
trains into it; `check_done` does the same for a finished fold. A mismatch is a `ConfigError`/`DataError`
that says what differs.

Example:

    recipe, data, lr_source = open_run(Path("runs/digit-recognizer/try1"), comp, load_recipe("default"), Reporter())
    load_run_recipe("runs/digit-recognizer/try1").name  # 'default'
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from kaggle_kit.config import load_toml, to_toml
from kaggle_kit.errors import ConfigError, DataError, OtherDataError
from kaggle_kit.io import atomic_write_json, atomic_write_text
from kaggle_kit.loading import file_fingerprint
from kaggle_kit.training import runs
from kaggle_kit.training.config import RecipeConfig
from kaggle_kit.training.data import TrainData, prepare_data
from kaggle_kit.training.folds import load_folds, save_folds
from kaggle_kit.training.reporting import Reporter

if TYPE_CHECKING:
    from kaggle_kit.competition import Competition, CompetitionSpec


def _run_info(competition: Competition, recipe: RecipeConfig, data: TrainData, lr_source: str) -> dict:
    return {
        "competition": competition.spec.slug,
        # what the models learned from: `kk predict` refuses other data unless told (same classes and shape would
        # otherwise give a "valid" submission for another competition)
        "train_fingerprint": file_fingerprint(competition.data_dir / competition.spec.train_file),
        "recipe": recipe.name,
        "model": recipe.model.name,
        "config_hash": runs.config_hash(recipe),
        "folds": recipe.folds,
        "seed": recipe.seed,
        "rows": int(len(data.assignment)),
        "train_rows": int(len(data.labels)),
        "extra_data": recipe.extra_data.value,
        "extra_file": data.extra_name,
        "lr": recipe.optimizer.lr,
        "lr_source": lr_source,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def load_run_recipe(run_dir: str | Path) -> RecipeConfig:
    """The resolved recipe a run folder was trained with (`config.toml`)."""
    return load_toml(Path(run_dir) / runs.CONFIG_FILE, RecipeConfig)


def open_run(run_dir: Path, competition: Competition, recipe: RecipeConfig, reporter: Reporter
              ) -> tuple[RecipeConfig, TrainData, str]:
    """Create the run folder's identity files, or check that an existing run folder matches this recipe."""
    existing = run_dir / runs.RUN_FILE
    lr_source = "recipe"
    if existing.is_file():
        old_recipe = load_run_recipe(run_dir)
        info = json.loads(existing.read_text())
        if recipe.optimizer.lr == "finder":  # the run fixed its rate when it started; keep it
            recipe = recipe.model_copy(update={"optimizer": recipe.optimizer.model_copy(
                update={"lr": old_recipe.optimizer.lr})})
            lr_source = info.get("lr_source", "run")
        if info.get("competition") != competition.spec.slug:
            raise ConfigError(f"{run_dir}: this run folder belongs to {info.get('competition')!r}, "
                              f"not {competition.spec.slug!r}")
        if runs.config_hash(recipe) != info.get("config_hash"):
            diff = runs.config_diff(old_recipe, recipe)
            raise ConfigError(
                f"{run_dir}: refusing to resume: the recipe differs from the one this run was started with "
                f"(config hash {info.get('config_hash')} vs {runs.config_hash(recipe)}):\n  " + "\n  ".join(diff),
                hint="Resume with the same settings (omit --recipe/--set to reuse the run's config.toml), "
                     "or start a new run with a different --run-dir.",
            )
        check_spec(run_dir, competition.spec)
    else:
        from kaggle_kit.training.recipes import resolve_lr

        recipe, lr_source = resolve_lr(recipe, competition.spec.slug)
    data = prepare_data(competition, recipe)
    folds_path = run_dir / runs.FOLDS_FILE
    if existing.is_file() and folds_path.is_file():
        saved = load_folds(folds_path, k=recipe.folds)
        if not saved.equals(data.assignment):
            raise DataError(
                f"{folds_path}: the fold assignment differs from the one drawn now from "
                f"{competition.data_dir / competition.spec.train_file}; the competition data changed since the "
                f"run started", hint="Start a new run (a different --run-dir).")
    if not existing.is_file():
        # A new run (or one that died before its identity was complete): write the identity files, run.json
        # last, so its presence means the others are complete and final.
        run_dir.mkdir(parents=True, exist_ok=True)
        save_folds(folds_path, data.assignment, data.labels)
        atomic_write_text(run_dir / runs.CONFIG_FILE, to_toml(recipe))
        atomic_write_json(run_dir / runs.SPEC_FILE, competition.spec.to_dict())
        atomic_write_json(existing, _run_info(competition, recipe, data, lr_source))
    for note in data.notes:
        reporter.message(note)
    return recipe, data, lr_source


def check_spec(run_dir: Path, spec: CompetitionSpec) -> None:
    saved = runs.read_json(run_dir / runs.SPEC_FILE)
    if not saved:
        return
    if [str(c) for c in saved.get("classes", [])] != [str(c) for c in spec.classes] or \
            list(saved.get("image_shape", [])) != list(spec.image_shape):
        raise DataError(
            f"{run_dir}: the run was trained on classes {saved.get('classes')} with image shape "
            f"{saved.get('image_shape')}, but {spec.data_dir} has classes {spec.classes} and shape "
            f"{list(spec.image_shape)}")


def check_done(fold_dir: Path, recipe: RecipeConfig) -> dict:
    """A finished fold's `metrics.json`, after checking its `done.json` was written by this recipe."""
    done = json.loads((fold_dir / runs.DONE_FILE).read_text())
    if done.get("config_hash") != runs.config_hash(recipe):
        raise ConfigError(f"{fold_dir / runs.DONE_FILE}: this fold was trained with a different recipe "
                          f"(config hash {done.get('config_hash')})")
    return json.loads((fold_dir / "metrics.json").read_text())


def check_same_data(run_dir: Path, competition: Competition) -> None:
    """Refuse to predict `competition` with a run trained on another competition's data (`OtherDataError`).

    Two competitions of this family can share classes and image shape, so nothing else would notice that
    Kannada-MNIST models are writing a "valid" digit-recognizer submission.
    """
    info = runs.read_json(run_dir / runs.RUN_FILE) or {}
    trained_on = info.get("competition")
    if trained_on and trained_on != competition.spec.slug:
        raise OtherDataError(f"{run_dir}: trained on {trained_on}, not {competition.spec.slug}",
                             hint="Pass --allow-other-data to predict it anyway.")
    recorded = info.get("train_fingerprint")
    train = competition.data_dir / competition.spec.train_file
    here = file_fingerprint(train) if recorded and train.is_file() else recorded
    if here != recorded:
        raise OtherDataError(f"{run_dir}: trained on another {competition.spec.train_file} than {train} "
                             f"(fingerprint {recorded[:20]}... vs {here[:20]}...)",
                             hint="Pass --allow-other-data if this is the same competition's data, changed.")
