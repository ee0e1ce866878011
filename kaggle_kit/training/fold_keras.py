"""The Keras fold trainer (`keras` in `FOLD_TRAINERS`): trains or resumes one fold of a model from `models`.

Resuming is the normal case: a fold folder holding `state.json` + `last.keras` continues from its last finished
epoch (weights *and* optimizer state), with its own seed offset by the epoch so a resumed fold does not replay
the first epoch's shuffle and augmentation. (What a resume cannot restore: the internal counters of a plateau
schedule, which start afresh; the rate itself is restored.) After the last epoch the best epoch's weights
become `model.keras`, and the fold's outputs are written (`results.write_fold_outputs`).

TensorFlow loads only when a fold actually trains, so a run of a scikit-learn baseline never starts it.

Example:

    trainer = KerasFoldTrainer()
    print(trainer.device(recipe))  # e.g. "strategy: cpu (default), 1 replica, devices: /CPU:0"
    result = trainer.train_fold(0, run_dir, recipe, competition.spec, data, PlainReporter())
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kaggle_kit.errors import ConfigError
from kaggle_kit.io import atomic_path, sha256_file
from kaggle_kit.training import runs
from kaggle_kit.training.config import RecipeConfig
from kaggle_kit.training.data import TrainData
from kaggle_kit.training.fold_trainers import FOLD_TRAINERS
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.results import FoldResult, FoldStatus, write_fold_outputs

if TYPE_CHECKING:
    from kaggle_kit.competition import CompetitionSpec
    from kaggle_kit.registry import Registry


def fold_seed(seed: int, fold: int) -> int:
    """Each fold's own seed, so a fold trained alone (in a kernel) is the same fold trained in sequence."""
    return int(seed) * 1009 + int(fold)


@dataclass(frozen=True)
class Batching:
    """How one fold's batches are shaped for the devices: the recipe's `batch_size` is per replica.

    One replica: the recipe's batch, a smaller last batch kept. A data-parallel strategy (2 GPUs, 8 TPU cores):
    global batch = per-replica batch x replicas with static shapes (`drop_remainder`), and on a TPU several
    steps per execution so the host does not stall the device between small steps.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> b = Batching.of(128, NS(replicas=8, kind="tpu"), 33600)
        >>> b.global_batch, b.steps, b.drop_remainder, b.steps_per_execution
        (1024, 32, True, 16)
        >>> Batching.of(128, NS(replicas=1, kind="cpu"), 1000).steps
        8
        >>> Batching.of(16, NS(replicas=8, kind="tpu"), 45).note   # tiny data: fewer rows than one global batch
        '45 training rows are fewer than one global batch (16 x 8 replicas): 5 per replica'

    """

    global_batch: int
    steps: int
    drop_remainder: bool
    steps_per_execution: int
    eval_batch: int
    note: str | None = None

    @classmethod
    def of(cls, per_replica: int, strategy, n_train: int) -> Batching:
        replicas = max(1, int(strategy.replicas))
        if replicas == 1:
            return cls(per_replica, max(1, math.ceil(n_train / per_replica)), False, 1, max(per_replica, 256))
        note = None
        if n_train < per_replica * replicas:  # tiny data: shrink the per-replica batch rather than train nothing
            smaller = max(1, n_train // replicas)
            note = (f"{n_train} training rows are fewer than one global batch ({per_replica} x {replicas} "
                    f"replicas): {smaller} per replica")
            per_replica = smaller
        global_batch = per_replica * replicas
        steps = max(1, n_train // global_batch)
        spe = min(TPU_STEPS_PER_EXECUTION, steps) if strategy.kind == "tpu" else 1
        eval_batch = -(-max(global_batch, 256) // replicas) * replicas
        return cls(global_batch, steps, True, spe, eval_batch, note)


# Steps per device call on a TPU: few enough that progress and the budget still see each epoch's early steps.
TPU_STEPS_PER_EXECUTION = 16


def compile_model(recipe: RecipeConfig, spec: CompetitionSpec, strategy, steps_per_execution: int = 1):
    """The recipe's model, compiled with its optimizer and loss inside `strategy.scope()`."""
    import keras

    from kaggle_kit.training.losses import build_loss
    from kaggle_kit.training.models import build_model
    from kaggle_kit.training.optimizers import build_optimizer

    with strategy.scope():
        model = build_model(recipe.model, spec.image_shape, spec.num_classes)
        model.compile(optimizer=build_optimizer(recipe.optimizer, float(recipe.optimizer.lr)),
                      # Weighted: padding rows (weight 0, a data-parallel mesh's even batches) must not count.
                      loss=build_loss(recipe.loss),
                      weighted_metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                      steps_per_execution=steps_per_execution)
    return model


@FOLD_TRAINERS.register("keras")
class KerasFoldTrainer:
    """A Keras model from the model registry, trained epoch by epoch with checkpoints (resumable)."""

    def __init__(self):
        self.strategy = None

    @property
    def models(self) -> Registry:
        from kaggle_kit.training.models import MODELS

        return MODELS

    def device(self, recipe: RecipeConfig) -> str:
        from kaggle_kit.training.strategy import detect_strategy

        self.strategy = detect_strategy(mixed_precision=recipe.mixed_precision)
        return self.strategy.describe()

    def train_fold(self, fold: int, run_dir: Path, recipe: RecipeConfig, spec: CompetitionSpec, data: TrainData,
                   reporter: Reporter) -> FoldResult:
        """Train (or resume) one fold and write its artifacts; `done.json` is written last."""

        from kaggle_kit.training.callbacks import BatchProgress, EMAWeights, FoldCheckpoint
        from kaggle_kit.training.data import data_parallel_replicas, eval_dataset, predict_probs, train_dataset
        from kaggle_kit.training.schedules import RunLength, build_schedule_callbacks
        from kaggle_kit.training.strategy import fresh_session, set_determinism

        t_start = time.perf_counter()  # a time budget counts from here: building and compiling are part of the fold
        if self.strategy is None:
            self.device(recipe)
        fdir = runs.fold_dir(run_dir, fold)
        fdir.mkdir(parents=True, exist_ok=True)
        chash = runs.config_hash(recipe)
        x_tr, y_tr, x_va, y_va, va_rows = data.fold_arrays(fold)
        batching = Batching.of(recipe.batch_size, self.strategy, len(x_tr))
        if batching.note:
            reporter.message(f"fold {fold}: {batching.note}")
        steps = batching.steps
        fresh_session()
        set_determinism(fold_seed(recipe.seed, fold), recipe.deterministic)
        model = compile_model(recipe, spec, self.strategy.strategy, batching.steps_per_execution)

        state, resumed = self._resume(fold, fdir, model, chash, reporter)
        initial_epoch = state.epoch
        budget = recipe.budget_minutes is not None
        # Under a budget the length is planned while training, and fit() runs to the cap unless stopped; until
        # the first plan (a few steps in) the schedule reads the recipe's epochs, so warm-up is not stretched.
        epochs = (state.planned_epochs or recipe.budget_max_epochs) if budget else recipe.epochs
        if budget and state.run_length:  # a resumed budgeted fold: its schedule as replanned so far
            length = RunLength.from_json(state.run_length)
        else:
            length = RunLength(min(epochs, recipe.epochs) if budget else epochs)
        budget_cb = None
        reporter.on_fold_start(fold, {"n_train": len(x_tr), "n_val": len(x_va), "epochs": epochs,
                                      "initial_epoch": initial_epoch, "steps_per_epoch": steps, "resumed": resumed,
                                      "budget_minutes": recipe.budget_minutes})
        if initial_epoch < epochs and not state.stopped_early:
            # A resumed fold must not replay epoch 1's shuffle and augmentation draws: offset the seed by the epoch.
            train_ds = train_dataset(x_tr, y_tr, spec.num_classes, batching.global_batch, recipe.augment,
                                     seed=fold_seed(recipe.seed, fold) + 7919 * initial_epoch,
                                     deterministic=recipe.deterministic, drop_remainder=batching.drop_remainder)
            val_ds = eval_dataset(x_va, y_va, spec.num_classes, batch_size=batching.eval_batch,
                                  pad_to=data_parallel_replicas())
            callbacks = build_schedule_callbacks(recipe.schedule, float(recipe.optimizer.lr), length, steps)
            if reporter.wants_batches:
                callbacks.insert(0, BatchProgress(fold, steps, reporter))
            if budget:
                from kaggle_kit.training.budget import BudgetCallback, BudgetPlanner

                n_tail = len(x_va) + (len(data.holdout[0]) if data.holdout else 0)
                planner = BudgetPlanner(60.0 * recipe.budget_minutes, max_epochs=epochs)
                budget_cb = BudgetCallback(planner, length, t_start, steps, len(x_tr), len(x_va), n_tail,
                                           initial_epoch=initial_epoch, reporter=reporter, fold=fold, state=state,
                                           spent_s=sum(h.get("seconds", 0.0) for h in state.history))
                callbacks.append(budget_cb)
            if recipe.optimizer.ema is not None:  # before FoldCheckpoint: it scores and saves the average
                callbacks.append(EMAWeights(resumed=resumed))
            callbacks.append(FoldCheckpoint(fdir, state, monitor=recipe.monitor, patience=recipe.early_stopping,
                                            n_train=len(x_tr), config_hash=chash, reporter=reporter))
            model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
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
        history = state.history
        seconds = sum(h.get("seconds", 0.0) for h in history) + (time.perf_counter() - t_fit_end)
        ips = [h["images_per_sec"] for h in history[1:]] or [h["images_per_sec"] for h in history]
        extra = {
            "best_epoch": state.best_epoch, "epochs_run": int(state.epoch), "stopped_early": bool(state.stopped_early),
            "monitor": recipe.monitor, "best_monitor": state.best, "seconds": seconds,
            "images_per_sec": float(np.median(ips)) if ips else None,
            # mesh_devices: what keras.distribution really split batches over (JAX), measured after training.
            "batching": {"replicas": int(self.strategy.replicas), "mesh_devices": data_parallel_replicas(),
                         "global_batch": batching.global_batch,
                         "steps_per_epoch": batching.steps, "drop_remainder": batching.drop_remainder,
                         "steps_per_execution": batching.steps_per_execution},
        }
        if budget:
            extra["budget"] = {
                **(budget_cb.summary() if budget_cb else {"budget_s": 60.0 * recipe.budget_minutes}),
                "epochs_run": int(state.epoch), "actual_s": round(time.perf_counter() - t_start + sum(
                    h.get("seconds", 0.0) for h in history[:initial_epoch]), 2),
            }
            b = extra["budget"]
            reporter.message(f"fold {fold}: budget {b['budget_s'] / 60:.2f} min, planned {b.get('planned_epochs')} "
                             f"epochs (final plan {b.get('final_planned_epochs')}), ran {b['epochs_run']} in "
                             f"{b['actual_s'] / 60:.2f} min"
                             + (f" (the last epoch cut short after {b['cut_after_steps']} of {b['steps_per_epoch']} "
                                f"steps)" if b.get("cut_mid_epoch") else ""))
        metrics = write_fold_outputs(fdir, fold, spec, y_va, va_rows, oof, holdout, hold_probs, chash, extra,
                                     model_file=runs.MODEL_KERAS)
        for name in (runs.LAST_CKPT, runs.BEST_WEIGHTS, runs.STATE_FILE):
            (fdir / name).unlink(missing_ok=True)
        return FoldResult.from_metrics(fold, metrics, FoldStatus.RESUMED if resumed else FoldStatus.TRAINED)

    @staticmethod
    def _resume(fold: int, fdir: Path, model, chash: str, reporter: Reporter):
        """(state, resumed): the fold's saved state with `last.keras` loaded into `model`, or a fresh state."""
        from kaggle_kit.training.callbacks import FoldState

        state_path, last = fdir / runs.STATE_FILE, fdir / runs.LAST_CKPT
        if not (state_path.is_file() and last.is_file()):
            return FoldState(fold=fold), False
        saved = json.loads(state_path.read_text())
        if saved.get("config_hash") not in (None, chash):
            raise ConfigError(f"{state_path}: written by a different recipe (config hash {saved.get('config_hash')} "
                              f"vs {chash}); delete {fdir} to retrain this fold")
        model.optimizer.build(model.trainable_variables)
        model.load_weights(last)  # a .keras file restores the optimizer's moments, iteration count and rate too
        state = FoldState.from_json({"fold": fold, **saved})
        if sha256_file(last) != saved.get("last_sha256"):
            # Killed between writing last.keras and state.json: the checkpoint is one epoch ahead of the state.
            state.epoch = saved["epoch"] + 1
            reporter.message(f"fold {fold}: checkpoint is newer than its state file; resuming after epoch "
                             f"{state.epoch} (that epoch's history row is lost)")
        return state, True
