"""K-fold training: `train_run` trains a recipe's folds into a run folder, resumably, and scores the run.

One function serves the CLI (`kk train`), the Kaggle training kernel and the demo: it takes a `Competition`,
a `RecipeConfig` and a run folder, trains the requested folds (all by default), and leaves a complete run
folder (see `kaggle_kit.training.runs` for the layout). Progress goes to a `Reporter` (`reporting`).

Resuming is the normal case, not a special mode: a fold with `done.json` is skipped, an interrupted fold
continues from its last finished epoch (`fold_keras`), and a run folder whose config hash differs from the recipe
is refused with the settings that differ (`rundir`). Each fold is trained by the fold trainer registered for the
recipe's model (`fold_trainers`: Keras models, scikit-learn baselines).

Example:

    comp = Competition.open("datasets/digit-recognizer")
    recipe = load_recipe("default", ["epochs=2"])
    result = train_run(comp, recipe, Path("runs/digit-recognizer/try1"), folds_to_train=[0], reporter=PlainReporter())
    result.metrics["cv_accuracy"]
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from kaggle_kit.competition import Competition
from kaggle_kit.errors import DataError
from kaggle_kit.io import atomic_path, atomic_write_json
from kaggle_kit.locks import LOCK_FILE, folder_lock
from kaggle_kit.training import baselines, fold_keras, runs  # noqa: F401  (importing registers the fold trainers)
from kaggle_kit.training.config import RecipeConfig
from kaggle_kit.training.data import TrainData, prepare_data
from kaggle_kit.training.fold_trainers import FOLD_TRAINERS, FoldTrainer
from kaggle_kit.training.metrics import classification_metrics
from kaggle_kit.training.probe import probe_run
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.results import FoldResult, FoldStatus, RunResult, read_history
from kaggle_kit.training.rundir import check_done, load_run_recipe, open_run

DEFAULT_FOLD_TRAINER = "keras"  # trains every model name no other fold trainer claims


def fold_trainer_for(model_name: str) -> FoldTrainer:
    """The fold trainer for `model_name`: the one whose `models` hold it, else Keras (whose registry of models
    is only read when a Keras fold trains, so a baseline run never loads TensorFlow)."""
    for name in FOLD_TRAINERS.names():
        trainer = FOLD_TRAINERS.get(name)
        if name != DEFAULT_FOLD_TRAINER and model_name in trainer.models:
            return trainer()
    return FOLD_TRAINERS.get(DEFAULT_FOLD_TRAINER)()


def train_run(competition: Competition, recipe: RecipeConfig, run_dir: str | Path,
              folds_to_train: list[int] | None = None, reporter: Reporter | None = None) -> RunResult:
    """Train `folds_to_train` (default: every fold) of `recipe` into `run_dir`, then score the whole run.

    Finished folds are skipped, an interrupted fold resumes from its last epoch, and the run's top-level
    metrics, plots and manifest are rebuilt from every finished fold in the folder (including folds copied
    in from other machines). One process trains a run folder at a time (`kaggle_kit.locks`); a run folder this
    call created is removed again if it fails before writing anything.
    """
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    try:
        with folder_lock(run_dir, "train"):
            return _train_run(competition, recipe, run_dir, folds_to_train, reporter)
    except BaseException:
        if created and run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {LOCK_FILE}:
            shutil.rmtree(run_dir, ignore_errors=True)  # kk runs must not list a run that never started
        raise


def _train_run(competition: Competition, recipe: RecipeConfig, run_dir: Path, folds_to_train: list[int] | None,
               reporter: Reporter | None) -> RunResult:
    reporter = reporter or Reporter()
    t0 = time.perf_counter()
    recipe = probe_run(run_dir, competition, recipe, reporter)
    recipe, data, lr_source = open_run(run_dir, competition, recipe, reporter)
    folds = list(range(recipe.folds)) if folds_to_train is None else sorted(set(folds_to_train))
    for f in folds:
        data.assignment._check(f)
    trainer = fold_trainer_for(recipe.model.name)
    todo = [f for f in folds if not (runs.fold_dir(run_dir, f) / runs.DONE_FILE).is_file()]
    # Nothing left to train: no reason to start an accelerator just to name it.
    device = trainer.device(recipe) if todo else "scikit-learn (CPU)"
    reporter.on_run_start({"run_dir": str(run_dir), "recipe": recipe.name, "folds": recipe.folds,
                           "folds_to_train": folds, "strategy": device, "n_rows": len(data.assignment),
                           "lr_source": lr_source, "lr": recipe.optimizer.lr})
    results = []
    for f in folds:
        fdir = runs.fold_dir(run_dir, f)
        if (fdir / runs.DONE_FILE).is_file():
            res = FoldResult.from_metrics(f, check_done(fdir, recipe), FoldStatus.SKIPPED)
        else:
            res = trainer.train_fold(f, run_dir, recipe, competition.spec, data, reporter)
        reporter.on_fold_end(f, res)
        results.append(res)
    trained = [r.fold for r in results if r.status != FoldStatus.SKIPPED]
    metrics = finalize_run(run_dir, competition, recipe, data, fresh_folds=trained)
    result = RunResult(run_dir=run_dir, folds=results, metrics=metrics, strategy=device,
                       seconds=time.perf_counter() - t0)
    reporter.on_run_end(result)
    return result


def finalize_run(run_dir: str | Path, competition: Competition, recipe: RecipeConfig | None = None,
                 data: TrainData | None = None, fresh_folds: list[int] = ()) -> dict:
    """Rebuild the run's `oof.npy`, `metrics.json` and plots from its finished folds, and record them in
    `manifest.json` with the files of `fresh_folds` (folds just trained here); every other fold's files must
    still match the manifest (`runs.record_artifacts`)."""
    from kaggle_kit.training import plots

    run_dir = Path(run_dir)
    recipe = recipe or load_run_recipe(run_dir)
    spec = competition.spec
    if data is None:
        data = prepare_data(competition, recipe)
    assignment = data.assignment
    done = [f for f in runs.done_folds(run_dir) if f < assignment.k]
    k = spec.num_classes
    oof = np.full((len(assignment), k), np.nan, np.float32)
    per_fold, histories, hold_probs = [], {}, []
    for f in done:
        fdir = runs.fold_dir(run_dir, f)
        probs = np.load(fdir / "oof.npy")
        rows = np.load(fdir / "oof_rows.npy")
        pos = np.searchsorted(assignment.rows, rows)
        if len(rows) and (pos.max() >= len(assignment.rows) or not np.array_equal(assignment.rows[pos], rows)):
            raise DataError(f"{fdir}: its out-of-fold rows are not rows of this run's folds.csv")
        oof[pos] = probs
        fm = json.loads((fdir / "metrics.json").read_text())
        per_fold.append({key: fm.get(key) for key in ("fold", "n", "accuracy", "log_loss", "best_epoch", "epochs_run",
                                                      "stopped_early", "holdout_accuracy", "seconds",
                                                      "images_per_sec", "budget") if key in fm or key != "budget"})
        if (fdir / "history.csv").is_file():
            histories[f] = read_history(fdir / "history.csv")
        if (fdir / "holdout.npy").is_file():
            hold_probs.append(np.load(fdir / "holdout.npy"))
    with atomic_path(run_dir / runs.OOF_FILE) as tmp:
        np.save(tmp, oof)
    info = runs.read_json(run_dir / runs.RUN_FILE) or {}
    metrics: dict = {
        "competition": spec.slug, "run_id": run_dir.name, "recipe": recipe.name, "model": recipe.model.name,
        "config_hash": runs.config_hash(recipe), "folds": assignment.k, "folds_done": done,
        "complete": len(done) == assignment.k, "rows": int(len(assignment)), "lr": info.get("lr"),
        "classes": [str(c) for c in spec.classes],
    }
    scored = ~np.isnan(oof).any(axis=1)
    y_rows = data.labels[assignment.rows]
    if scored.any():
        m = classification_metrics(y_rows[scored], oof[scored], spec.classes)
        metrics.update(cv_accuracy=m["accuracy"], cv_log_loss=m["log_loss"], oof_rows_scored=int(scored.sum()),
                       per_class_accuracy=m["per_class_accuracy"], per_fold=per_fold,
                       confusion_matrix=m["confusion_matrix"], classification_report=m["classification_report"])
    else:
        metrics.update(cv_accuracy=None, per_fold=[])
    if hold_probs and data.holdout is not None:
        hy = data.holdout[1]
        ens = np.mean(hold_probs, axis=0)
        hm = classification_metrics(hy, ens, spec.classes)
        metrics["holdout"] = {
            "file": data.extra_name, "n": int(len(hy)), "ensemble_accuracy": hm["accuracy"],
            "ensemble_log_loss": hm["log_loss"], "per_fold": {str(p["fold"]): p["holdout_accuracy"] for p in per_fold},
            "per_class_accuracy": hm["per_class_accuracy"], "confusion_matrix": hm["confusion_matrix"],
        }
    atomic_write_json(run_dir / runs.METRICS_FILE, metrics)

    pdir = run_dir / runs.PLOTS_DIR
    if scored.any():
        if histories:
            plots.plot_curves(histories, pdir / "curves.png", monitor=recipe.monitor)
        plots.plot_confusion(np.asarray(metrics["confusion_matrix"]), spec.classes, pdir / "confusion.png")
        fold_pca = {f: json.loads((runs.fold_dir(run_dir, f) / "metrics.json").read_text())["per_class_accuracy"]
                    for f in done}
        hold = metrics.get("holdout")
        plots.plot_per_class(metrics["per_class_accuracy"], spec.classes, pdir / "per_class.png", folds=fold_pca,
                             holdout=hold["per_class_accuracy"] if hold else None,
                             holdout_name=f"hold-out {data.extra_name}")
        rows_scored = assignment.rows[scored]
        plots.plot_misclassified(data.images[rows_scored], y_rows[scored], oof[scored], spec.classes,
                                 pdir / "misclassified.png")
    fresh = [runs.OOF_FILE, runs.METRICS_FILE, *(p.relative_to(run_dir) for p in sorted(pdir.glob("*.png")))]
    for f in fresh_folds:
        fdir = runs.fold_dir(run_dir, f)
        fresh += [p.relative_to(run_dir) for p in fdir.rglob("*") if p.is_file()]
    runs.record_artifacts(run_dir, rewritten=fresh)
    return metrics



