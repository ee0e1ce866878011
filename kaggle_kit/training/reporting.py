"""Training progress: the `Reporter` interface `train_run` talks to, and `PlainReporter` (one line per event).

The CLI draws rich progress bars with its own subclass, kernels print with `PlainReporter`, and `Reporter()`
itself is silent.

Example:
    >>> PlainReporter().message("fold 0: starting")
    fold 0: starting
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaggle_kit.training.results import FoldStatus

if TYPE_CHECKING:
    from kaggle_kit.training.results import FoldResult, RunResult


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

    def on_plan(self, fold: int, plan: dict) -> None:
        """A time budget planned (or replanned) the fold: `plan` holds epochs, budget_s, elapsed_s, epoch_s,
        expected_end (UTC, ISO) and replanned (False for the first plan)."""
        self.message(plan_line(fold, plan))

    def on_batch_end(self, fold: int, epoch: int, step: int, steps: int) -> None:
        """Called after every training step when `wants_batches` (from a worker thread)."""

    def on_epoch_end(self, fold: int, epoch: int, logs: dict) -> None:
        """`epoch` counts from 1."""

    def on_fold_end(self, fold: int, result: FoldResult) -> None:
        """The fold finished (or was skipped: `result.status is FoldStatus.SKIPPED`)."""

    def on_run_end(self, result: RunResult) -> None:
        """Everything is written; `result.metrics` is the run's `metrics.json`."""


def plan_line(fold: int, plan: dict) -> str:
    """One line for a budget's plan, e.g. `fold 0: budget 5.0 min -> 12 epochs (~21.3 s each), ends ~12:04:10 UTC`."""
    what = "replanned" if plan.get("replanned") else "budget"
    each = f" (~{plan['epoch_s']:.1f} s each)" if plan.get("epoch_s") else ""
    end = str(plan.get("expected_end", ""))[11:19]
    return (f"fold {fold}: {what} {plan['budget_s'] / 60:.1f} min -> {plan['epochs']} epochs{each}, "
            f"{plan['elapsed_s']:.0f} s used, expected end ~{end} UTC")


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
        if result.status is FoldStatus.SKIPPED:
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
