"""Prediction from a run folder: fold ensemble + test-time augmentation -> validated `submission.csv`.

Works from the run folder and the competition's data alone (a run downloaded from a Kaggle kernel predicts the
same as one trained here): `config.toml` says how augmentation was done, `spec.json` which classes the model
outputs, `fold<i>/model.keras` (or `model.joblib`) holds the weights.

The ensemble is the mean of the folds' probabilities (or weighted by each fold's CV accuracy). TTA averages the
original test images with N augmented passes that use the recipe's augmentation at half strength (geometric
transforms only: rotation, shear, zoom, shift), each pass seeded so predictions are repeatable.

Example:
    >>> result = predict_run("runs/digit-recognizer/20261122-053012-default", comp, tta=2)
    >>> result.submission_path, result.probs.shape
    (PosixPath('runs/digit-recognizer/20261122-053012-default/submission.csv'), (28000, 10))
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kaggle_kit.competition import Competition
from kaggle_kit.errors import ConfigError, KKError
from kaggle_kit.io import atomic_path, atomic_write_json
from kaggle_kit.submission import write_submission
from kaggle_kit.training import runs
from kaggle_kit.training.config import AugmentConfig

TEST_PROBS = "test_probs.npy"
SUBMISSION = "submission.csv"


@dataclass
class PredictionResult:
    probs: np.ndarray  # (N_test, K) ensemble probabilities, test-file row order
    predicted: np.ndarray  # (N_test,) class indices
    submission_path: Path
    probs_path: Path
    folds: list[int]
    weights: list[float]
    tta: int
    fold_cv: dict[int, float] = field(default_factory=dict)
    label_counts: dict = field(default_factory=dict)


def tta_augment_config(cfg: AugmentConfig) -> AugmentConfig:
    """The recipe's augmentation at half strength, geometric only, applied to every image (TTA)."""
    if cfg.backend == "none":
        cfg = AugmentConfig(backend="graph")  # no training augmentation: use mild defaults
    return cfg.model_copy(update={
        "rotation": cfg.rotation / 2, "shear": cfg.shear / 2, "zoom": cfg.zoom / 2, "shift": cfg.shift / 2,
        "p": 1.0, "grid_distortion": 0.0, "brightness_contrast": 0.0, "gamma": 0.0, "random_crop": 0.0,
    })


def tta_passes(images: np.ndarray, cfg: AugmentConfig, n: int, seed: int = 0) -> list[np.ndarray]:
    """The original images followed by `n` augmented copies (uint8), pass `j` seeded with `seed + j`."""
    from kaggle_kit.training.augment import augment_batch

    mild = tta_augment_config(cfg)
    out = [images]
    for j in range(1, n + 1):
        out.append(np.asarray(augment_batch(images, mild, seed=seed + j), dtype=np.uint8))
    return out


def fold_models(run_dir: str | Path, folds: list[int] | None = None) -> dict[int, Path]:
    """Model file of every finished fold (or of `folds`; a missing or unfinished one is an error)."""
    run_dir = Path(run_dir)
    done = runs.done_folds(run_dir)
    if folds is None:
        folds = done
        if not folds:
            raise KKError(f"{run_dir}: no finished fold (no fold<i>/done.json); train first: kk train --run-dir {run_dir}")
    missing = [f for f in folds if f not in done]
    if missing:
        raise KKError(f"{run_dir}: fold(s) {missing} not finished (finished: {done or 'none'})")
    out = {}
    for f in folds:
        info = json.loads((runs.fold_dir(run_dir, f) / runs.DONE_FILE).read_text())
        path = runs.fold_dir(run_dir, f) / info.get("model", runs.MODEL_KERAS)
        if not path.is_file():
            raise KKError(f"{path}: model file missing although the fold is marked done")
        out[f] = path
    return out


def fold_cv_accuracy(run_dir: str | Path, fold: int) -> float:
    m = runs.read_json(runs.fold_dir(run_dir, fold) / "metrics.json") or {}
    return float(m.get("accuracy") or 0.0)


def _predict_fold(path: Path, passes: list[np.ndarray], num_classes: int, batch_size: int) -> np.ndarray:
    if path.suffix == ".joblib":
        from kaggle_kit.training.baselines import baseline_probs, load_estimator

        est = load_estimator(path)
        return np.mean([baseline_probs(est, x, num_classes) for x in passes], axis=0)
    import keras

    from kaggle_kit.training import register_custom_objects
    from kaggle_kit.training.data import predict_probs

    register_custom_objects()
    model = keras.models.load_model(path, compile=False)
    if int(model.output_shape[-1]) != num_classes:
        raise KKError(f"{path}: the model outputs {model.output_shape[-1]} classes, the run's spec has {num_classes}")
    probs = np.mean([predict_probs(model, x, batch_size=batch_size) for x in passes], axis=0)
    del model
    keras.backend.clear_session()
    return probs


def predict_run(run_dir: str | Path, competition: Competition, tta: int | None = None,
                folds: list[int] | None = None, weighted: bool = False, out: str | Path | None = None,
                batch_size: int = 512, log: Callable[[str], None] | None = None,
                on_step: Callable[[int, int], None] | None = None) -> PredictionResult:
    """Ensemble the run's folds (with `tta` augmented passes; default: the recipe's `tta`) into a submission.

    `on_step(done, total)` is called as each fold's passes finish (done and total in passes over the test set).

    Writes `out` (default `RUN_DIR/submission.csv`, validated) and `test_probs.npy` beside it.
    """
    from kaggle_kit.training.rundir import check_spec, load_run_recipe

    log = log or (lambda s: None)
    run_dir = runs.require_run_dir(run_dir)
    recipe = load_run_recipe(run_dir)
    check_spec(run_dir, competition.spec)
    tta = recipe.tta if tta is None else int(tta)
    if tta < 0:
        raise ConfigError(f"--tta {tta}: must be >= 0")
    models = fold_models(run_dir, folds)
    cv = {f: fold_cv_accuracy(run_dir, f) for f in models}
    if weighted:
        total = sum(cv.values())
        weights = [cv[f] / total if total > 0 else 1 / len(models) for f in models]
    else:
        weights = [1 / len(models)] * len(models)
    images = competition.test_images()
    passes = tta_passes(images, recipe.augment, tta, seed=recipe.seed) if tta else [images]
    k = competition.spec.num_classes
    probs = np.zeros((len(images), k), np.float64)
    total = len(models) * len(passes)
    if on_step:
        on_step(0, total)
    for i, ((f, path), w) in enumerate(zip(models.items(), weights)):
        log(f"fold {f}: predicting {len(images)} test images x {len(passes)} pass(es) with {path.name}")
        probs += w * _predict_fold(path, passes, k, batch_size)
        if on_step:
            on_step((i + 1) * len(passes), total)
    probs = probs.astype(np.float32)
    predicted = np.argmax(probs, axis=1)
    out = Path(out) if out else run_dir / SUBMISSION
    probs_path = out.parent / TEST_PROBS
    with atomic_path(probs_path) as tmp:
        np.save(tmp, probs)
    write_submission(competition, predicted, out)  # validated before it returns
    labels = competition.spec.decode_labels(predicted)
    values, counts = np.unique(labels.astype(str), return_counts=True)
    atomic_write_json(out.parent / "prediction.json", {
        "submission": out.name, "probs": probs_path.name, "folds": list(models), "weights": weights, "tta": tta,
        "weighted": weighted, "fold_cv_accuracy": {str(f): a for f, a in cv.items()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    })
    if out.resolve().parent == run_dir.resolve():
        runs.write_manifest(run_dir)
    return PredictionResult(probs=probs, predicted=predicted, submission_path=out, probs_path=probs_path,
                            folds=list(models), weights=weights, tta=tta, fold_cv=cv,
                            label_counts=dict(zip(values.tolist(), counts.tolist())))
