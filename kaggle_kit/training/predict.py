"""Prediction from a run folder: fold ensemble + test-time augmentation -> validated `submission.csv`.

Works from the run folder and the competition's data alone (a run downloaded from a Kaggle kernel predicts the
same as one trained here): `config.toml` says how augmentation was done, `spec.json` which classes the model
outputs, `fold<i>/model.keras` (or `model.joblib`) holds the weights. A Keras fold is rebuilt from `config.toml`'s
model (the model registry) and only its weights are loaded, so a run trained with a newer Keras predicts under
an older one (Kaggle's image) and the other way round.

The ensemble is the mean of the folds' probabilities (or weighted by each fold's CV accuracy). TTA averages the
original test images with N augmented passes that use the recipe's augmentation at half strength (geometric
transforms only: rotation, shear, zoom, shift), each pass seeded so predictions are repeatable.

Example (needs a trained run, so a plain code block):

    result = predict_run("runs/digit-recognizer/20261122-053012-default", comp, tta=2)
    result.submission_path, result.probs.shape
    # (PosixPath('runs/digit-recognizer/20261122-053012-default/submission.csv'), (28000, 10))
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kaggle_kit.competition import Competition
from kaggle_kit.errors import ConfigError, KKError, TamperedRunError
from kaggle_kit.io import atomic_path, atomic_write_json
from kaggle_kit.submission import write_submission
from kaggle_kit.training import runs
from kaggle_kit.training.config import AugmentConfig

TEST_PROBS = "test_probs.npy"
PREDICTION_FILE = "prediction.json"
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
        "p": 1.0, "grid_distortion": 0.0, "brightness_contrast": 0.0, "gamma": 0.0, "random_crop": 0.0, "erase": 0.0,
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


def fold_weights(fold_cv: dict[int, float], weighted: bool) -> list[float]:
    """Each fold's share of the ensemble, in `fold_cv`'s order: equal, or proportional to CV accuracy when `weighted`.

    Weighted with no positive CV accuracy (e.g. no metrics.json) falls back to equal shares.
    """
    n = len(fold_cv)
    if n == 0:
        return []
    total = sum(fold_cv.values())
    if weighted and total > 0:
        return [fold_cv[f] / total for f in fold_cv]
    return [1 / n] * n


def average_passes(pass_probs: list[np.ndarray]) -> np.ndarray:
    """TTA: the plain mean of one model's probabilities over the original and the augmented passes."""
    return np.mean(np.stack([np.asarray(p, np.float64) for p in pass_probs]), axis=0)


def ensemble_probs(fold_probs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """The ensemble: `sum_i weights[i] * fold_probs[i]` (float64), one (N, K) array per fold."""
    if len(fold_probs) != len(weights):
        raise ValueError(f"{len(fold_probs)} fold(s) of probabilities but {len(weights)} weight(s)")
    if not fold_probs:
        raise ValueError("no fold to ensemble")
    out = np.zeros(np.shape(fold_probs[0]), np.float64)
    for p, w in zip(fold_probs, weights):
        if np.shape(p) != out.shape:
            raise ValueError(f"fold probabilities of shapes {out.shape} and {np.shape(p)} cannot be ensembled")
        out += float(w) * np.asarray(p, np.float64)
    return out


def load_fold_model(path: Path, model_cfg, image_shape: tuple[int, int, int], num_classes: int):
    """The fold's network rebuilt from the run's recipe (model registry) with the weights of `path` loaded.

    Only the weights are read from the `.keras` archive, never its serialized layer config: a config written by
    a newer Keras does not deserialize in an older one (Keras 3.15's initializers carry `input_axes`, which
    3.14 and older reject), and Kaggle's images lag the local one. The weights file layout is stable.
    """
    from kaggle_kit.training.models import build_model

    model = build_model(model_cfg, image_shape, num_classes)
    try:
        model.load_weights(path)
    except ValueError as exc:  # a different architecture than the recipe names (edited config.toml?)
        raise KKError(f"{path}: its weights do not fit the run's model {model_cfg.name!r}: {exc}") from None
    return model


def _predict_fold(path: Path, passes: list[np.ndarray], num_classes: int, batch_size: int, model_cfg=None,
                  image_shape: tuple[int, int, int] | None = None) -> np.ndarray:
    if path.suffix == ".joblib":
        from kaggle_kit.training.baselines import baseline_probs, load_estimator

        est = load_estimator(path)
        return average_passes([baseline_probs(est, x, num_classes) for x in passes])
    from kaggle_kit.training.data import predict_probs
    from kaggle_kit.training.strategy import fresh_session

    model = load_fold_model(path, model_cfg, image_shape or tuple(passes[0].shape[1:]), num_classes)
    probs = average_passes([predict_probs(model, x, batch_size=batch_size) for x in passes])
    del model
    fresh_session()
    return probs


def version_note(trained: dict | None) -> str | None:
    """One line when the libraries that trained the weights differ from the ones predicting here, else None."""
    if not trained:
        return None
    from kaggle_kit.training.runs import library_versions

    here = library_versions()
    keys = [k for k in ("keras", "tensorflow", "jax") if trained.get(k) and here.get(k)
            and trained[k] != here[k]]
    if not keys:
        return None
    return ("note: weights trained with " + ", ".join(f"{k} {trained[k]}" for k in keys) + "; predicting with "
            + ", ".join(f"{k} {here[k]}" for k in keys)
            + " (the model is rebuilt from the run's recipe and only its weights are loaded)")


def predict_run(run_dir: str | Path, competition: Competition, tta: int | None = None,
                folds: list[int] | None = None, weighted: bool = False, out: str | Path | None = None,
                batch_size: int = 512, log: Callable[[str], None] | None = None,
                allow_other_data: bool = False, verified: bool = False,
                trained_versions: dict | None = None,
                on_step: Callable[[int, int], None] | None = None) -> PredictionResult:
    """Ensemble the run's folds (with `tta` augmented passes; default: the recipe's `tta`) into a submission.

    Writes `out` (default `RUN_DIR/submission.csv`, validated) and `test_probs.npy` beside it. `trained_versions`:
    the library versions that trained the weights (default: the run's `manifest.json`), for a one-line note when
    they differ from this environment's. `on_step(done, total)` is called as each fold's passes finish (done and
    total in passes over the test set).
    """
    from kaggle_kit.training.rundir import check_same_data, check_spec, load_run_recipe

    log = log or (lambda s: None)
    run_dir = runs.require_run_dir(run_dir)
    recipe = load_run_recipe(run_dir)
    check_spec(run_dir, competition.spec)
    if not allow_other_data:
        check_same_data(run_dir, competition)
    tta = recipe.tta if tta is None else int(tta)
    if tta < 0:
        raise ConfigError(f"--tta {tta}: must be >= 0")
    models = fold_models(run_dir, folds)
    # the weights about to be trusted must be the ones the run recorded (`verified`: the caller checked them
    # against a manifest of its own, e.g. the inference kernel against its weights dataset's)
    own_outputs = (SUBMISSION, TEST_PROBS, PREDICTION_FILE)  # this call writes them again
    problems = [] if verified else [p for p in runs.verify_manifest(run_dir)
                                    if not (p.endswith(": missing") and p.split(":")[0] in own_outputs)]
    if problems:
        raise TamperedRunError(f"{run_dir}: files differ from the run's manifest.json: " + "; ".join(problems[:5]),
                               hint="Restore them, or finish the run with kk train --run-dir RUN if it was "
                                    "interrupted before its manifest was written.")
    if trained_versions is None:
        trained_versions = (runs.read_json(run_dir / runs.MANIFEST_FILE) or {}).get("versions")
    if any(p.suffix != ".joblib" for p in models.values()):
        note = version_note(trained_versions)
        if note:
            log(note)
    cv = {f: fold_cv_accuracy(run_dir, f) for f in models}
    weights = fold_weights(cv, weighted)
    images = competition.test_images()
    passes = tta_passes(images, recipe.augment, tta, seed=recipe.seed) if tta else [images]
    k = competition.spec.num_classes
    fold_probs = []
    total = len(models) * len(passes)
    if on_step:
        on_step(0, total)
    for i, (f, path) in enumerate(models.items()):
        log(f"fold {f}: predicting {len(images)} test images x {len(passes)} pass(es) with {path.name}")
        fold_probs.append(_predict_fold(path, passes, k, batch_size, recipe.model, competition.spec.image_shape))
        if on_step:
            on_step((i + 1) * len(passes), total)
    probs = ensemble_probs(fold_probs, weights).astype(np.float32)
    predicted = np.argmax(probs, axis=1)
    out = Path(out) if out else run_dir / SUBMISSION
    probs_path = out.parent / TEST_PROBS
    with atomic_path(probs_path) as tmp:
        np.save(tmp, probs)
    write_submission(competition, predicted, out)  # validated before it returns
    labels = competition.spec.decode_labels(predicted)
    values, counts = np.unique(labels.astype(str), return_counts=True)
    atomic_write_json(out.parent / PREDICTION_FILE, {
        "submission": out.name, "probs": probs_path.name, "folds": list(models), "weights": weights, "tta": tta,
        "weighted": weighted, "fold_cv_accuracy": {str(f): a for f, a in cv.items()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    })
    if out.resolve().parent == run_dir.resolve():
        runs.record_artifacts(run_dir, rewritten=[out, probs_path, out.parent / PREDICTION_FILE])
    return PredictionResult(probs=probs, predicted=predicted, submission_path=out, probs_path=probs_path,
                            folds=list(models), weights=weights, tta=tta, fold_cv=cv,
                            label_counts=dict(zip(values.tolist(), counts.tolist())))
