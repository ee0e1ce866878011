"""K-fold training: `train_run` trains a recipe's folds into a run folder, resumably, and scores the run.

One function serves the CLI (`kk train`), the Kaggle training kernel and the demo: it takes a `Competition`,
a `RecipeConfig` and a run folder, trains the requested folds (all by default), and leaves a complete run
folder (see `kaggle_kit.training.runs` for the layout). Progress goes to a `Reporter` passed in: the CLI's
draws rich progress bars, `PlainReporter` prints lines (kernels), `Reporter()` is silent.

Resuming is the normal case, not a special mode: a fold with `done.json` is skipped, a fold with
`state.json` + `last.keras` continues from its last finished epoch (weights *and* optimizer state), and a
run folder whose config hash differs from the recipe is refused with the settings that differ. (What a resume
cannot restore: the internal counters of a plateau schedule, which start afresh; the rate itself is restored.)

Example:
    >>> comp = Competition.open("datasets/digit-recognizer")
    >>> recipe = load_recipe("default", ["epochs=2"])
    >>> result = train_run(comp, recipe, Path("runs/digit-recognizer/try1"), folds_to_train=[0], reporter=PlainReporter())
    >>> result.metrics["cv_accuracy"]
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kaggle_kit.competition import Competition, CompetitionSpec
from kaggle_kit.config import load_toml, to_toml
from kaggle_kit.errors import ConfigError, DataError
from kaggle_kit.io import atomic_path, atomic_write_json, atomic_write_text, sha256_file
from kaggle_kit.training import runs
from kaggle_kit.training.config import RecipeConfig
from kaggle_kit.training.folds import FoldAssignment, assign_folds, load_folds, save_folds, stratified_sample
from kaggle_kit.training.metrics import accuracy, classification_metrics

# --- progress reporting --------------------------------------------------------------------------------------

class Reporter:
    """Receives training progress. Subclass and override what you need; this base class is silent.

    `on_epoch_end` logs hold `loss`, `accuracy`, `val_loss`, `val_accuracy`, `lr`, `images_per_sec`, `seconds`
    (and any other metric Keras logged). Set `wants_batches = True` to also get `on_batch_end` per step.
    """

    wants_batches = False

    def message(self, text: str) -> None:
        """A one-line status message (strategy found, fold skipped, resuming...)."""

    def on_run_start(self, info: dict) -> None:
        """`info`: run_dir, recipe, folds (K), folds_to_train, strategy, n_rows, lr_source."""

    def on_fold_start(self, fold: int, info: dict) -> None:
        """`info`: n_train, n_val, epochs, initial_epoch, steps_per_epoch, resumed."""

    def on_batch_end(self, fold: int, epoch: int, step: int, steps: int) -> None:
        """Called after every training step when `wants_batches` (from a worker thread)."""

    def on_epoch_end(self, fold: int, epoch: int, logs: dict) -> None:
        """`epoch` counts from 1."""

    def on_fold_end(self, fold: int, result: FoldResult) -> None:
        """The fold finished (or was skipped: `result.status == "skipped"`)."""

    def on_run_end(self, result: RunResult) -> None:
        """Everything is written; `result.metrics` is the run's `metrics.json`."""


class PlainReporter(Reporter):
    """Plain-text progress, one line per epoch and fold: what kernels and logs want (no terminal control codes)."""

    def __init__(self, quiet: bool = False, print_fn=print):
        self.quiet = quiet
        self.print = print_fn

    def message(self, text: str) -> None:
        if not self.quiet:
            self.print(text, flush=True) if self.print is print else self.print(text)

    def on_run_start(self, info: dict) -> None:
        self.message(f"run {info['run_dir']}: recipe {info['recipe']}, {info['folds']} folds, training "
                     f"{info['folds_to_train']}, {info['n_rows']} rows; {info['strategy']}")

    def on_fold_start(self, fold: int, info: dict) -> None:
        what = f"resuming at epoch {info['initial_epoch'] + 1}" if info["resumed"] else "starting"
        self.message(f"fold {fold}: {what} ({info['n_train']} train / {info['n_val']} val, {info['epochs']} epochs)")

    def on_epoch_end(self, fold: int, epoch: int, logs: dict) -> None:
        keys = ("loss", "accuracy", "val_loss", "val_accuracy")
        parts = [f"{k} {logs[k]:.4f}" for k in keys if isinstance(logs.get(k), (int, float))]
        self.message(f"fold {fold} epoch {epoch}: " + ", ".join(parts)
                     + f", lr {logs.get('lr', float('nan')):.2e}, {logs.get('images_per_sec', 0):.0f} img/s")

    def on_fold_end(self, fold: int, result: FoldResult) -> None:
        if result.status == "skipped":
            self.message(f"fold {fold}: already done (val accuracy {result.val_accuracy:.4f}), skipped")
        else:
            self.message(f"fold {fold}: val accuracy {result.val_accuracy:.4f} (best epoch {result.best_epoch}), "
                         f"{result.seconds:.0f}s")

    def on_run_end(self, result: RunResult) -> None:
        cv = result.metrics.get("cv_accuracy")
        line = f"CV accuracy {cv:.5f}" if cv is not None else "no fold finished yet"
        if (h := result.metrics.get("holdout")) and h.get("ensemble_accuracy") is not None:
            line += f"; {h['file']} hold-out accuracy {h['ensemble_accuracy']:.5f}"
        self.print(f"{line}  ({result.run_dir})")


# --- results ---------------------------------------------------------------------------------------------------

@dataclass
class FoldResult:
    fold: int
    status: str  # "trained" | "resumed" | "skipped"
    val_accuracy: float
    val_loss: float | None
    best_epoch: int
    epochs_run: int
    seconds: float
    images_per_sec: float | None
    holdout_accuracy: float | None = None
    stopped_early: bool = False

    @classmethod
    def from_metrics(cls, fold: int, m: dict, status: str) -> FoldResult:
        return cls(fold=fold, status=status, val_accuracy=m["accuracy"], val_loss=m.get("log_loss"),
                   best_epoch=m.get("best_epoch", 0), epochs_run=m.get("epochs_run", 0),
                   seconds=m.get("seconds", 0.0), images_per_sec=m.get("images_per_sec"),
                   holdout_accuracy=m.get("holdout_accuracy"), stopped_early=m.get("stopped_early", False))


@dataclass
class RunResult:
    run_dir: Path
    folds: list[FoldResult]
    metrics: dict
    strategy: str = ""
    seconds: float = 0.0

    @property
    def cv_accuracy(self) -> float | None:
        return self.metrics.get("cv_accuracy")


# --- data ----------------------------------------------------------------------------------------------------

@dataclass
class TrainData:
    """The arrays a run trains on: training images/labels, the fold assignment, and extra labelled data."""

    images: np.ndarray
    labels: np.ndarray
    assignment: FoldAssignment
    extra_images: np.ndarray | None = None
    extra_labels: np.ndarray | None = None
    extra_name: str | None = None
    extra_mode: str = "ignore"
    notes: list[str] = field(default_factory=list)

    def fold_arrays(self, fold: int):
        """(x_train, y_train, x_val, y_val, val_rows) for `fold`; extra rows join training in `extra_mode=train`."""
        tr, va = self.assignment.train_rows(fold), self.assignment.val_rows(fold)
        x_tr, y_tr = self.images[tr], self.labels[tr]
        if self.extra_mode == "train" and self.extra_images is not None:
            x_tr = np.concatenate([x_tr, self.extra_images])
            y_tr = np.concatenate([y_tr, self.extra_labels])
        return x_tr, y_tr, self.images[va], self.labels[va], va

    @property
    def holdout(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.extra_mode == "holdout" and self.extra_images is not None:
            return self.extra_images, self.extra_labels
        return None


def prepare_data(competition: Competition, recipe: RecipeConfig) -> TrainData:
    """Load the training arrays, draw the `limit` sample and the K-fold assignment, and load extra labelled files."""
    x, y = competition.train_arrays()
    rows = stratified_sample(y, recipe.limit, recipe.seed) if recipe.limit else None
    assignment = assign_folds(y, recipe.folds, recipe.seed, rows=rows)
    data = TrainData(images=x, labels=y, assignment=assignment, extra_mode=recipe.extra_data)
    if recipe.extra_data != "ignore":
        names = list(competition.spec.extra_labelled)
        if not names:
            data.notes.append(f"extra_data={recipe.extra_data!r}: this competition has no extra labelled file; "
                              f"training on {competition.spec.train_file} only")
            data.extra_mode = "ignore"
        else:
            parts = [competition.extra_arrays(n) for n in names]
            xe = np.concatenate([p[0] for p in parts])
            ye = np.concatenate([p[1] for p in parts])
            if recipe.limit and len(xe) > recipe.limit:
                keep = stratified_sample(ye, recipe.limit, recipe.seed + 1)
                xe, ye = xe[keep], ye[keep]
            data.extra_images, data.extra_labels, data.extra_name = xe, ye, "+".join(names)
            data.notes.append(f"extra data {data.extra_name} ({len(xe)} rows): "
                              + ("added to every fold's training set" if recipe.extra_data == "train"
                                 else "scored separately as a hold-out"))
    return data


# --- the run folder's identity ---------------------------------------------------------------------------------

def _run_info(competition: Competition, recipe: RecipeConfig, data: TrainData, lr_source: str) -> dict:
    return {
        "competition": competition.spec.slug,
        "recipe": recipe.name,
        "model": recipe.model.name,
        "config_hash": runs.config_hash(recipe),
        "folds": recipe.folds,
        "seed": recipe.seed,
        "rows": int(len(data.assignment)),
        "train_rows": int(len(data.labels)),
        "extra_data": recipe.extra_data,
        "extra_file": data.extra_name,
        "lr": recipe.optimizer.lr,
        "lr_source": lr_source,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def load_run_recipe(run_dir: str | Path) -> RecipeConfig:
    """The resolved recipe a run folder was trained with (`config.toml`)."""
    return load_toml(Path(run_dir) / runs.CONFIG_FILE, RecipeConfig)


def _open_run(run_dir: Path, competition: Competition, recipe: RecipeConfig, reporter: Reporter
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


# --- one fold ------------------------------------------------------------------------------------------------

def _monitor_mode(monitor: str) -> str:
    return "min" if "loss" in monitor else "max"


def _history_csv(rows: list[dict]) -> str:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in keys})
    return out.getvalue()


def read_history(path: str | Path) -> dict[str, list[float]]:
    """A `history.csv` as columns of floats."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            try:
                cols.setdefault(k, []).append(float(v))
            except (TypeError, ValueError):
                cols.setdefault(k, []).append(float("nan"))
    return cols


def _make_fold_callback(fold: int, fdir: Path, recipe: RecipeConfig, state: dict, reporter: Reporter,
                        n_train: int, steps: int, chash: str):
    import keras

    from kaggle_kit.training.schedules import current_lr

    monitor, mode, patience = recipe.monitor, _monitor_mode(recipe.monitor), recipe.early_stopping

    class FoldCheckpoint(keras.callbacks.Callback):
        """Per epoch: history row, best weights by `monitor`, early stopping, and the resume point (all atomic)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()
            self.t_train = None
            self.lr = current_lr(self.model)  # after the schedule callbacks set this epoch's rate

        def on_test_begin(self, logs=None):
            if self.t_train is None:
                self.t_train = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            now = time.perf_counter()
            train_s = (self.t_train or now) - self.t0
            row = {"epoch": epoch + 1}
            row.update({k: float(v) for k, v in logs.items() if k != "learning_rate" and _is_number(v)})
            row.update(lr=self.lr, images_per_sec=n_train / max(train_s, 1e-9), seconds=now - self.t0)
            if monitor not in row:
                raise ConfigError(f"monitor = {monitor!r} is not a logged metric; logged: "
                                  f"{', '.join(k for k in row if k not in ('epoch', 'lr', 'seconds'))}")
            value = row[monitor]
            best = state.get("best")
            improved = best is None or (value < best if mode == "min" else value > best)
            if improved and math.isfinite(value):
                with atomic_path(fdir / runs.BEST_WEIGHTS, suffix=".weights.h5") as tmp:
                    self.model.save_weights(tmp)
                state.update(best=value, best_epoch=epoch + 1, wait=0)
            else:
                state["wait"] = state.get("wait", 0) + 1
            state["history"].append(row)
            if patience is not None and state["wait"] >= patience:
                self.model.stop_training = True
                state["stopped_early"] = True
            state["epoch"] = epoch + 1
            # Resume point: weights + optimizer state first, then the state that names it (with its hash).
            with atomic_path(fdir / runs.LAST_CKPT) as tmp:
                self.model.save(tmp)
            state["last_sha256"] = sha256_file(fdir / runs.LAST_CKPT)
            state["config_hash"] = chash
            atomic_write_text(fdir / "history.csv", _history_csv(state["history"]))
            atomic_write_json(fdir / runs.STATE_FILE, state)
            reporter.on_epoch_end(fold, epoch + 1, row)

    cbs = [FoldCheckpoint()]
    if reporter.wants_batches:

        class BatchProgress(keras.callbacks.Callback):
            async_safe = True  # only forwards a counter; lets Keras keep dispatching steps asynchronously

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch + 1

            def on_train_batch_end(self, batch, logs=None):
                reporter.on_batch_end(fold, self.epoch, batch + 1, steps)

        cbs.insert(0, BatchProgress())
    return cbs


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _fold_seed(seed: int, fold: int) -> int:
    """Each fold's own seed, so a fold trained alone (in a kernel) is the same fold trained in sequence."""
    return int(seed) * 1009 + int(fold)


def _compile(recipe: RecipeConfig, spec: CompetitionSpec, strategy):
    import keras

    from kaggle_kit.training.losses import build_loss
    from kaggle_kit.training.models import build_model
    from kaggle_kit.training.optimizers import build_optimizer

    with strategy.scope():
        model = build_model(recipe.model, spec.image_shape, spec.num_classes)
        model.compile(optimizer=build_optimizer(recipe.optimizer, float(recipe.optimizer.lr)),
                      loss=build_loss(recipe.loss), metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return model


def train_fold(fold: int, run_dir: Path, recipe: RecipeConfig, spec: CompetitionSpec, data: TrainData,
               strategy, reporter: Reporter) -> FoldResult:
    """Train (or resume) one fold and write its artifacts; `done.json` is written last."""
    import keras

    from kaggle_kit.training.data import eval_dataset, predict_probs, train_dataset
    from kaggle_kit.training.schedules import build_schedule_callbacks
    from kaggle_kit.training.strategy import set_determinism

    fdir = runs.fold_dir(run_dir, fold)
    fdir.mkdir(parents=True, exist_ok=True)
    chash = runs.config_hash(recipe)
    x_tr, y_tr, x_va, y_va, va_rows = data.fold_arrays(fold)
    steps = max(1, math.ceil(len(x_tr) / recipe.batch_size))
    policy = keras.config.dtype_policy()
    keras.backend.clear_session()  # frees the previous fold's graphs; it also resets the dtype policy, so restore it
    keras.config.set_dtype_policy(policy)
    set_determinism(_fold_seed(recipe.seed, fold), recipe.deterministic)
    model = _compile(recipe, spec, strategy.strategy)

    state = {"fold": fold, "epoch": 0, "best": None, "best_epoch": 0, "wait": 0, "history": [],
             "stopped_early": False}
    state_path, last = fdir / runs.STATE_FILE, fdir / runs.LAST_CKPT
    resumed = False
    if state_path.is_file() and last.is_file():
        saved = json.loads(state_path.read_text())
        if saved.get("config_hash") not in (None, chash):
            raise ConfigError(f"{state_path}: written by a different recipe (config hash {saved.get('config_hash')} "
                              f"vs {chash}); delete {fdir} to retrain this fold")
        model.optimizer.build(model.trainable_variables)
        model.load_weights(last)  # a .keras file restores the optimizer's moments, iteration count and rate too
        state.update(saved)
        if sha256_file(last) != saved.get("last_sha256"):
            # Killed between writing last.keras and state.json: the checkpoint is one epoch ahead of the state.
            state["epoch"] = saved["epoch"] + 1
            reporter.message(f"fold {fold}: checkpoint is newer than its state file; resuming after epoch "
                             f"{state['epoch']} (that epoch's history row is lost)")
        resumed = True
    initial_epoch = int(state["epoch"])
    reporter.on_fold_start(fold, {"n_train": len(x_tr), "n_val": len(x_va), "epochs": recipe.epochs,
                                  "initial_epoch": initial_epoch, "steps_per_epoch": steps, "resumed": resumed})
    if initial_epoch < recipe.epochs and not state.get("stopped_early"):
        # A resumed fold must not replay epoch 1's shuffle and augmentation draws: offset the seed by the epoch.
        train_ds = train_dataset(x_tr, y_tr, spec.num_classes, recipe.batch_size, recipe.augment,
                                 seed=_fold_seed(recipe.seed, fold) + 7919 * initial_epoch,
                                 deterministic=recipe.deterministic)
        val_ds = eval_dataset(x_va, y_va, spec.num_classes, batch_size=max(recipe.batch_size, 256))
        callbacks = build_schedule_callbacks(recipe.schedule, float(recipe.optimizer.lr), recipe.epochs, steps)
        callbacks += _make_fold_callback(fold, fdir, recipe, state, reporter, len(x_tr), steps, chash)
        model.fit(train_ds, validation_data=val_ds, epochs=recipe.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=0, shuffle=False)
    t_fit_end = time.perf_counter()

    best = fdir / runs.BEST_WEIGHTS
    if best.is_file():
        model.load_weights(best)  # restore the best epoch by `monitor`
    with atomic_path(fdir / runs.MODEL_KERAS) as tmp:
        model.save(tmp)
    oof = predict_probs(model, x_va)
    holdout = data.holdout
    hold_probs = predict_probs(model, holdout[0]) if holdout else None
    history = state["history"]
    seconds = sum(h.get("seconds", 0.0) for h in history) + (time.perf_counter() - t_fit_end)
    ips = [h["images_per_sec"] for h in history[1:]] or [h["images_per_sec"] for h in history]
    extra = {
        "best_epoch": state.get("best_epoch", 0), "epochs_run": int(state.get("epoch", 0)),
        "stopped_early": bool(state.get("stopped_early")), "monitor": recipe.monitor, "best_monitor": state.get("best"),
        "seconds": seconds, "images_per_sec": float(np.median(ips)) if ips else None,
    }
    result = write_fold_outputs(fdir, fold, spec, y_va, va_rows, oof, holdout, hold_probs, chash, extra,
                                 model_file=runs.MODEL_KERAS)
    for name in (runs.LAST_CKPT, runs.BEST_WEIGHTS, runs.STATE_FILE):
        (fdir / name).unlink(missing_ok=True)
    return FoldResult.from_metrics(fold, result, "resumed" if resumed else "trained")


def write_fold_outputs(fdir: Path, fold: int, spec: CompetitionSpec, y_va, va_rows, oof, holdout, hold_probs,
                        chash: str, extra: dict, model_file: str) -> dict:
    """oof.npy/oof_rows.npy/holdout.npy/metrics.json, then done.json (the fold's completion mark)."""
    with atomic_path(fdir / "oof.npy") as tmp:
        np.save(tmp, oof.astype(np.float32))
    with atomic_path(fdir / "oof_rows.npy") as tmp:
        np.save(tmp, np.asarray(va_rows, np.int64))
    m = classification_metrics(y_va, oof, spec.classes)
    m = {"fold": fold, **{k: m[k] for k in ("n", "accuracy", "log_loss", "per_class_accuracy")}, **extra}
    if hold_probs is not None:
        with atomic_path(fdir / "holdout.npy") as tmp:
            np.save(tmp, hold_probs.astype(np.float32))
        m["holdout_accuracy"] = accuracy(holdout[1], hold_probs)
    atomic_write_json(fdir / "metrics.json", m)
    atomic_write_json(fdir / runs.DONE_FILE, {
        "fold": fold, "config_hash": chash, "model": model_file, "model_sha256": sha256_file(fdir / model_file),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "host": os.uname().nodename,
    })
    return m


# --- the run ---------------------------------------------------------------------------------------------------

def train_run(competition: Competition, recipe: RecipeConfig, run_dir: str | Path,
              folds_to_train: list[int] | None = None, reporter: Reporter | None = None) -> RunResult:
    """Train `folds_to_train` (default: every fold) of `recipe` into `run_dir`, then score the whole run.

    Finished folds are skipped, an interrupted fold resumes from its last epoch, and the run's top-level
    metrics, plots and manifest are rebuilt from every finished fold in the folder (including folds copied
    in from other machines).
    """
    from kaggle_kit.training.baselines import is_baseline, train_baseline_fold

    reporter = reporter or Reporter()
    run_dir = Path(run_dir)
    t0 = time.perf_counter()
    recipe, data, lr_source = _open_run(run_dir, competition, recipe, reporter)
    folds = list(range(recipe.folds)) if folds_to_train is None else sorted(set(folds_to_train))
    for f in folds:
        data.assignment._check(f)
    baseline = is_baseline(recipe.model.name)
    strategy = None
    strategy_line = "scikit-learn (CPU)"
    todo = [f for f in folds if not (runs.fold_dir(run_dir, f) / runs.DONE_FILE).is_file()]
    if todo and not baseline:
        from kaggle_kit.training.strategy import detect_strategy

        strategy = detect_strategy(mixed_precision=recipe.mixed_precision)
        strategy_line = strategy.describe()
    reporter.on_run_start({"run_dir": str(run_dir), "recipe": recipe.name, "folds": recipe.folds,
                           "folds_to_train": folds, "strategy": strategy_line, "n_rows": len(data.assignment),
                           "lr_source": lr_source, "lr": recipe.optimizer.lr})
    results = []
    for f in folds:
        fdir = runs.fold_dir(run_dir, f)
        if (fdir / runs.DONE_FILE).is_file():
            done = json.loads((fdir / runs.DONE_FILE).read_text())
            if done.get("config_hash") != runs.config_hash(recipe):
                raise ConfigError(f"{fdir / runs.DONE_FILE}: this fold was trained with a different recipe "
                                  f"(config hash {done.get('config_hash')})")
            res = FoldResult.from_metrics(f, json.loads((fdir / "metrics.json").read_text()), "skipped")
        elif baseline:
            res = train_baseline_fold(f, run_dir, recipe, competition.spec, data, reporter)
        else:
            res = train_fold(f, run_dir, recipe, competition.spec, data, strategy, reporter)
        reporter.on_fold_end(f, res)
        results.append(res)
    metrics = finalize_run(run_dir, competition, recipe, data)
    result = RunResult(run_dir=run_dir, folds=results, metrics=metrics, strategy=strategy_line,
                       seconds=time.perf_counter() - t0)
    reporter.on_run_end(result)
    return result


def finalize_run(run_dir: str | Path, competition: Competition, recipe: RecipeConfig | None = None,
                 data: TrainData | None = None) -> dict:
    """Rebuild the run's `oof.npy`, `metrics.json`, plots and `manifest.json` from its finished folds."""
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
                                                      "images_per_sec")})
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
    runs.write_manifest(run_dir)
    return metrics



# --- learning-rate finder -----------------------------------------------------------------------------------

@dataclass
class LRFindOutput:
    """Where `lr_find_run` saved its sweep and what it suggests."""

    result: object  # lr_finder.LRFinderResult
    json_path: Path
    png_path: Path
    suggested_lr: float

    def summary(self) -> str:
        r = self.result
        note = " (the sweep stopped at divergence)" if getattr(r, "diverged", False) else ""
        return (f"suggested learning rate {self.suggested_lr:.2e}; useful range {r.low:.2e} (steepest descent) .. "
                f"{r.high:.2e} (minimum loss){note}")


def lr_find_run(competition: Competition, recipe: RecipeConfig, out_dir: str | Path | None = None,
                steps: int = 200, min_lr: float = 1e-7, max_lr: float = 1.0) -> LRFindOutput:
    """Run the LR range finder on the recipe's model, loss, optimizer and augmented training data.

    Saves `lr_finder.json` + `lr_finder.png` in `out_dir` (default `runs/<competition>/lr-find/<timestamp>/`,
    where recipes with `optimizer.lr = "finder"` look for the newest one).
    """
    from kaggle_kit.training.data import train_dataset
    from kaggle_kit.training.lr_finder import find_lr, plot_lr_finder
    from kaggle_kit.training.recipes import lr_finder_root
    from kaggle_kit.training.strategy import detect_strategy, set_determinism

    if recipe.optimizer.lr == "finder":  # the sweep sets the rate itself; any number builds the optimizer
        recipe = recipe.model_copy(update={"optimizer": recipe.optimizer.model_copy(update={"lr": 1e-3})})
    out_dir = Path(out_dir) if out_dir else lr_finder_root(competition.spec.slug) / runs.utc_stamp()
    x, y = competition.train_arrays()
    if recipe.limit:
        keep = stratified_sample(y, recipe.limit, recipe.seed)
        x, y = x[keep], y[keep]
    info = detect_strategy(mixed_precision=recipe.mixed_precision)
    set_determinism(recipe.seed, recipe.deterministic)
    model = _compile(recipe, competition.spec, info.strategy)
    ds = train_dataset(x, y, competition.spec.num_classes, recipe.batch_size, recipe.augment, seed=recipe.seed)
    result = find_lr(model, ds, steps, min_lr=min_lr, max_lr=max_lr)
    result.meta.update(competition=competition.spec.slug, recipe=recipe.name, model=recipe.model.name,
                       batch_size=recipe.batch_size, rows=int(len(x)))
    json_path = result.save(out_dir / "lr_finder.json")
    png_path = plot_lr_finder(result, out_dir / "lr_finder.png")
    return LRFindOutput(result=result, json_path=Path(json_path), png_path=Path(png_path),
                        suggested_lr=float(result.suggested))
