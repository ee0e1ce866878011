"""Classical baselines (notebooks 003/004) on the same folds and run layout as the CNNs.

A recipe whose `model.name` is `knn`, `random-forest` or `svm-pca` trains a scikit-learn estimator per fold on
flattened pixels scaled to 0..1; the fold folder gets `model.joblib` instead of `model.keras`, and everything
else (oof, metrics, done.json, the run's CV) is the same, so `kk runs` lists them beside the CNNs and
`kk predict` ensembles them the same way.

Each baseline is a builder in `BASELINE_MODELS` whose keyword arguments are its `model.params`:

| name | estimator (params from `model.params`) | notebook |
|---|---|---|
| `knn` | `KNeighborsClassifier(n_neighbors=3, weights="uniform")` | 004 searched k in 1..19 |
| `random-forest` | `RandomForestClassifier(n_estimators=300)` | 004 searched 100..500 trees |
| `svm-pca` | `PCA(n_components=154, whiten=False)` + `SVC(kernel="rbf", gamma=0.06, C=1.0)` | 003 |

Example:

    est = build_baseline(ModelConfig(name="knn", params={"n_neighbors": 5}), seed=0)
    est.fit(features(x_train), y_train)
    probs = baseline_probs(est, x_test, num_classes=10)
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kaggle_kit.errors import ConfigError
from kaggle_kit.io import atomic_path
from kaggle_kit.registry import Registry
from kaggle_kit.training import runs
from kaggle_kit.training.fold_trainers import FOLD_TRAINERS
from kaggle_kit.training.results import FoldResult, FoldStatus, write_fold_outputs

BASELINE_MODELS: Registry[Callable] = Registry("baseline model", field="model.name")


def baseline_params(name: str) -> dict[str, object]:
    """The parameters baseline `name` accepts in `model.params`, with their defaults."""
    sig = inspect.signature(BASELINE_MODELS.get(name))
    return {k: p.default for k, p in sig.parameters.items() if k not in ("seed", "n_train")}


def is_baseline(model_name: str) -> bool:
    return model_name in BASELINE_MODELS


def features(images: np.ndarray) -> np.ndarray:
    """Flattened pixels in 0..1 (float32): what the notebooks fed their classical models."""
    return np.asarray(images, np.float32).reshape(len(images), -1) / 255.0


def build_baseline(cfg, seed: int = 0, n_train: int | None = None):
    """The scikit-learn estimator for `cfg.name` with `cfg.params` over the builder's defaults."""
    builder = BASELINE_MODELS.get(cfg.name)
    known = baseline_params(cfg.name)
    unknown = sorted(set(cfg.params) - set(known))
    if unknown:
        raise ConfigError(f"model.params: unknown parameter(s) {', '.join(map(repr, unknown))} for {cfg.name!r} "
                          f"(accepted: {', '.join(f'{k}={v!r}' for k, v in known.items())})")
    return builder(seed=seed, n_train=n_train, **cfg.params)


@BASELINE_MODELS.register("knn")
def knn(seed: int, n_train: int | None, n_neighbors=3, weights="uniform"):
    """k-nearest neighbours on raw pixels (notebook 004)."""
    from sklearn.neighbors import KNeighborsClassifier

    k = int(n_neighbors)
    if n_train is not None:
        k = max(1, min(k, n_train))
    return KNeighborsClassifier(n_neighbors=k, weights=weights, n_jobs=-1)


@BASELINE_MODELS.register("random-forest")
def random_forest(seed: int, n_train: int | None, n_estimators=300, max_depth=None, min_samples_leaf=1):
    """Random forest on raw pixels (notebook 004)."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=int(n_estimators), max_depth=max_depth,
                                  min_samples_leaf=int(min_samples_leaf), n_jobs=-1, random_state=seed)


@BASELINE_MODELS.register("svm-pca")
def svm_pca(seed: int, n_train: int | None, n_components=154, whiten=False, C=1.0, gamma=0.06):  # noqa: N803
    """PCA + RBF support-vector machine (notebook 003)."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    n_comp = int(n_components)
    if n_train is not None:
        n_comp = max(1, min(n_comp, n_train - 1))
    return Pipeline([
        ("pca", PCA(n_components=n_comp, whiten=bool(whiten), random_state=seed)),
        ("svm", SVC(kernel="rbf", C=float(C), gamma=float(gamma), decision_function_shape="ovr",
                    random_state=seed)),
    ])


def baseline_probs(estimator, images: np.ndarray, num_classes: int) -> np.ndarray:
    """Class probabilities `(N, num_classes)`; columns follow class indices even when a fold lacked a class.

    SVC without Platt scaling has no `predict_proba` (and Platt scaling costs five extra fits), so its one-vs-rest
    decision values go through a softmax: the argmax is the SVM's own prediction.
    """
    x = features(images)
    if hasattr(estimator, "predict_proba") and not _is_svm(estimator):
        p = estimator.predict_proba(x)
    else:
        d = np.asarray(estimator.decision_function(x), np.float64)
        if d.ndim == 1:  # two classes
            d = np.stack([-d, d], axis=1)
        d = d - d.max(axis=1, keepdims=True)
        p = np.exp(d)
        p /= p.sum(axis=1, keepdims=True)
    out = np.zeros((len(x), num_classes), np.float32)
    out[:, np.asarray(estimator.classes_, np.int64)] = p
    return out


def _is_svm(estimator) -> bool:
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    last = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return isinstance(last, SVC)


def save_estimator(estimator, path: str | Path) -> Path:
    import joblib

    with atomic_path(path) as tmp:
        joblib.dump(estimator, tmp, compress=3)
    return Path(path)


def load_estimator(path: str | Path):
    import joblib

    return joblib.load(path)


@FOLD_TRAINERS.register("scikit-learn")
class BaselineFoldTrainer:
    """A scikit-learn baseline, fitted once per fold on flattened pixels (no epochs, nothing to resume)."""

    models = BASELINE_MODELS

    def device(self, recipe) -> str:
        return "scikit-learn (CPU)"

    def train_fold(self, fold: int, run_dir: Path, recipe, spec, data, reporter) -> FoldResult:
        """Fit one fold's estimator and write the same fold artifacts a Keras fold has."""
        fdir = runs.fold_dir(run_dir, fold)
        fdir.mkdir(parents=True, exist_ok=True)
        x_tr, y_tr, x_va, y_va, va_rows = data.fold_arrays(fold)
        reporter.on_fold_start(fold, {"n_train": len(x_tr), "n_val": len(x_va), "epochs": 1, "initial_epoch": 0,
                                      "steps_per_epoch": 1, "resumed": False})
        t0 = time.perf_counter()
        est = build_baseline(recipe.model, seed=recipe.seed + fold, n_train=len(x_tr))
        est.fit(features(x_tr), y_tr)
        fit_s = time.perf_counter() - t0
        save_estimator(est, fdir / runs.MODEL_JOBLIB)
        oof = baseline_probs(est, x_va, spec.num_classes)
        holdout = data.holdout
        hold_probs = baseline_probs(est, holdout[0], spec.num_classes) if holdout else None
        seconds = time.perf_counter() - t0
        acc = float(np.mean(np.argmax(oof, 1) == y_va))
        reporter.on_epoch_end(fold, 1, {"val_accuracy": acc, "images_per_sec": len(x_tr) / max(fit_s, 1e-9),
                                        "seconds": seconds, "lr": float("nan")})
        extra = {"best_epoch": 1, "epochs_run": 1, "stopped_early": False, "monitor": "val_accuracy",
                 "best_monitor": acc, "seconds": seconds, "images_per_sec": len(x_tr) / max(fit_s, 1e-9)}
        m = write_fold_outputs(fdir, fold, spec, y_va, va_rows, oof, holdout, hold_probs, runs.config_hash(recipe),
                               extra, model_file=runs.MODEL_JOBLIB)
        return FoldResult.from_metrics(fold, m, FoldStatus.TRAINED)
