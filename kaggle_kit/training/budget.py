"""Time budgets: plan a fold's number of epochs from its measured speed, and keep the plan within the budget.

`recipe.budget_minutes` (or `kk train --budget MINUTES`) is wall-clock time per fold, counted from the moment
the fold starts (model building, compiling, every epoch with its validation and checkpoint, and the final
out-of-fold predictions all count). `BudgetPlanner` is the arithmetic; `BudgetCallback` runs it inside
`model.fit`:

1. **probe**: the first training steps of epoch 1 are timed (the first step, which traces and compiles, is
   left out), and the first plan is made from them: epochs that fit = remaining time / estimated epoch time.
2. **replan**: after every epoch the plan is made again from the measured epoch wall time (training,
   validation and checkpoint together; the median of the last `RECENT` epochs, so one epoch slowed by a
   neighbour's job does not cut the run for good). A machine that slows down shortens the run; one that turns
   out faster (or recovers from a slow spell) lengthens it again, until `GROW_BEFORE` of the plan is done. The
   run length the schedule reads (`schedules.RunLength`) follows continuously: a replan spreads what is left of
   the cosine over the new remaining epochs, so the rate never jumps back up, and the cosine still ends at its
   floor at the new end. (Until 2026-12-03 a plan could grow only in its first half, and a replan moved the
   whole cosine: a 30-minute digit-recognizer fold slowed by a neighbour's job from epoch 31 ended at 22.8 min.)
3. **last resort**: if, inside an epoch, the time left cannot fit the rest of the epoch plus its validation
   and the final predictions, the epoch is cut short when no further step fits (Keras validates and
   checkpoints it as usual). That holds for a fold's first epoch too: a budget smaller than compiling plus one
   epoch (a large model on a CPU) is reported, and the fold trains the part of its first epoch that fits.
   (Until 2026-12-03 the first epoch was never cut, and such folds overran: a 10-minute seed000 fold took 12.5
   minutes.)

The plan, every replan and planned-vs-actual are recorded in `BudgetPlanner.summary()`, which the Keras fold
trainer writes into the fold's `metrics.json` (key `budget`).

Example:
    >>> planner = BudgetPlanner(budget_s=60.0, max_epochs=100)
    >>> planner.plan(elapsed_s=10.0, epochs_done=0, epoch_s=8.0, tail_s=2.0)  # (0.95 x 60 - 10 - 2) / 8 = 5.6
    5
    >>> planner.plan(elapsed_s=34.0, epochs_done=3, epoch_s=12.0, tail_s=2.0)  # slower: 3 + (57 - 34 - 2) / 12
    4
    >>> planner.replans[0]["from"], planner.replans[0]["to"]
    (5, 4)
    >>> BudgetPlanner(60.0, 100).plan(5.0, 0, 8.0, 2.0), BudgetPlanner(60.0, 100).plan(5.0, 0, 4.0, 2.0)
    (6, 12)
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Callable

import keras

from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.schedules import RunLength

SAFETY = 0.95  # plan to use this share of the budget: timings on a shared machine wobble
PROBE_STEPS = 8  # timed training steps (after the compiling first one) before the first plan
PROBE_MIN_S = 1.0  # ...or until this long has passed, whichever is later (bounded by the epoch's steps)
EVAL_COST = 0.5  # an evaluated image costs about this share of a trained one (forward only); a guess until measured
RECENT = 3  # replans read the median wall time of this many last epochs
GROW_BEFORE = 0.9  # a plan may lengthen only while fewer than this share of its epochs are done


def _utc(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="seconds")


class BudgetPlanner:
    """The number of epochs that fit in `budget_s`, planned and replanned from measured times (lengthened only
    before `GROW_BEFORE` of the plan is done)."""

    def __init__(self, budget_s: float, max_epochs: int, min_epochs: int = 1):
        self.budget_s = float(budget_s)
        self.max_epochs = int(max_epochs)
        self.min_epochs = int(min_epochs)
        self.epochs: int | None = None
        self.initial_epochs: int | None = None
        self.replans: list[dict] = []

    def fit(self, elapsed_s: float, epochs_done: float, epoch_s: float, tail_s: float) -> int:
        """Epochs (counting the `epochs_done` already trained) that end, with `tail_s` after them, in the budget."""
        left = SAFETY * self.budget_s - elapsed_s - tail_s
        more = math.floor(left / max(epoch_s, 1e-9)) if left > 0 else 0
        done = math.floor(epochs_done)
        # the epoch in progress (a fractional `epochs_done`) is paid for by `left` already
        return max(self.min_epochs, min(self.max_epochs, done + more + (1 if epochs_done > done else 0)))

    def plan(self, elapsed_s: float, epochs_done: float, epoch_s: float, tail_s: float) -> int:
        """Plan (first call) or replan: shorter when the epochs no longer fit, longer only before `GROW_BEFORE`
        of the plan is done."""
        fits = self.fit(elapsed_s, epochs_done, epoch_s, tail_s)
        if self.epochs is None:
            self.epochs = self.initial_epochs = fits
            return self.epochs
        if fits < self.epochs:
            fits = max(fits, math.ceil(epochs_done), self.min_epochs)
        elif epochs_done >= GROW_BEFORE * self.epochs:
            fits = self.epochs
        if fits != self.epochs:
            self.replans.append({"after_epochs": round(float(epochs_done), 3), "elapsed_s": round(elapsed_s, 2),
                                 "epoch_s": round(epoch_s, 3), "from": self.epochs, "to": fits})
            self.epochs = fits
        return self.epochs

    def summary(self) -> dict:
        return {"budget_s": self.budget_s, "planned_epochs": self.initial_epochs, "final_planned_epochs": self.epochs,
                "replans": list(self.replans)}


class BudgetCallback(keras.callbacks.Callback):
    """Plans the fold's epochs after a short probe, replans after every epoch, and stops training on plan.

    `length` is the `RunLength` the schedule reads; `t_start` is when the fold started (`time.perf_counter()`);
    `n_train`/`n_val`/`n_tail` are images trained per epoch, validated per epoch, and predicted after training.
    Put it before the checkpoint callback: the plan it sets (`state.planned_epochs`, when a `state` is given)
    is then saved with the epoch, and an epoch's measured wall time (from one epoch end to the next) still
    includes the previous epoch's checkpoint.
    """

    def __init__(self, planner: BudgetPlanner, length: RunLength, t_start: float, steps: int, n_train: int,
                 n_val: int, n_tail: int, initial_epoch: int = 0, spent_s: float = 0.0,
                 reporter: Reporter | None = None, fold: int = 0, state=None,
                 clock: Callable[[], float] = time.perf_counter):
        super().__init__()
        self.planner, self.length, self.steps = planner, length, max(1, int(steps))
        self.n_train, self.n_val, self.n_tail = n_train, n_val, n_tail
        self.t_start, self.spent_s = t_start, spent_s  # spent_s: time this fold spent before a resume
        self.reporter, self.fold, self.state, self.clock = reporter or Reporter(), fold, state, clock
        self.initial_epoch = initial_epoch
        self.epoch = initial_epoch
        self.step_s: float | None = None
        self.val_s: float | None = None
        self.epoch_s: float | None = None
        self.cut_after_steps: int | None = None  # steps the cut epoch trained, of `steps`
        self._t_probe: float | None = None
        self._probe_from = 0
        self._t_epoch = 0.0
        self._mark: tuple[float, int] | None = None  # (time, batch) this epoch's steps are timed from
        self._t_last_end: float | None = None
        self._t_val = 0.0
        self.first_expected_end: str | None = None
        self._recent: list[float] = []  # measured epoch wall times, for replans

    # ---- estimates -------------------------------------------------------------------------------------------
    @property
    def cut_mid_epoch(self) -> bool:
        return self.cut_after_steps is not None

    def elapsed(self) -> float:
        return self.spent_s + self.clock() - self.t_start

    def _val_estimate(self) -> float:
        if self.val_s is not None:
            return self.val_s
        step = self.step_s or 0.0
        return EVAL_COST * step * self.n_val / max(1, self.n_train / self.steps)

    def tail_s(self) -> float:
        """Time after the last epoch: predicting the validation (and hold-out) rows once more, saving the model."""
        return self._val_estimate() * max(1.0, self.n_tail / max(1, self.n_val)) + 1.0

    def _follow(self, planned: int, at: float, first: bool) -> None:
        """Move the schedule's run length to the plan. A fresh fold's first plan (a few steps in, or at the end of
        an epoch too short to time steps in: one step per epoch on a mesh) resets it, as if planned so from the
        start; every later plan, and a resumed fold's first, continues it from where it is."""
        if first and self.initial_epoch == 0 and self.spent_s == 0:
            self.length.reset(planned)
        else:
            self.length.replan(planned, at=at)

    def _announce(self, position: float) -> None:
        """Report the plan; `position` = epochs trained so far (fractional inside an epoch)."""
        left = max(0.0, self.length.epochs - position) * (self.epoch_s or 0.0) + self.tail_s()
        expected = _utc(time.time() + left)
        self.first_expected_end = self.first_expected_end or expected
        self.reporter.on_plan(self.fold, {"epochs": self.length.epochs, "budget_s": self.planner.budget_s,
                                          "elapsed_s": self.elapsed(), "epoch_s": self.epoch_s,
                                          "expected_end": expected, "replanned": bool(self.planner.replans)})

    def summary(self) -> dict:
        """The plan and its replans, the first plan's expected end (UTC), whether an epoch was cut, and the schedule's
        final run length (its anchor says where the last replan took over)."""
        return {**self.planner.summary(), "expected_end": self.first_expected_end,
                "cut_mid_epoch": self.cut_mid_epoch, "cut_after_steps": self.cut_after_steps,
                "steps_per_epoch": self.steps, "run_length": self.length.to_json()}

    # ---- keras hooks -----------------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._t_epoch = self.clock()
        self._mark = None

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        if self.planner.epochs is None:  # probing: time steps 2.. of the first epoch trained in this call
            if self._t_probe is None:  # the first step traced and compiled the graph: time from its end
                self._t_probe, self._probe_from = now, batch
                self._mark = (now, batch)
                if batch + 1 >= self.steps:
                    return
            done = batch - self._probe_from
            if done >= PROBE_STEPS and now - self._t_probe >= PROBE_MIN_S or (done > 0 and batch + 1 >= self.steps):
                self.step_s = (now - self._t_probe) / done
                self.epoch_s = self.step_s * self.steps + self._val_estimate() + 0.5
                position = self.epoch + (batch + 1) / self.steps
                self._follow(self.planner.plan(self.elapsed(), position, self.epoch_s, self.tail_s()), position,
                             first=True)
                self._announce(position)
                rest = self.elapsed() + (1 - position + self.epoch) * self.epoch_s + self.tail_s()
                if rest > self.planner.budget_s:
                    self.reporter.message(
                        f"fold {self.fold}: the budget ({self.planner.budget_s:.0f} s) is smaller than building and "
                        f"compiling ({self.elapsed():.0f} s so far) plus one epoch (~{self.epoch_s:.0f} s): the "
                        f"first epoch is cut short where the budget ends")
            return
        # The step time of the last PROBE_STEPS steps: the first steps after compiling run slower, so the probe's
        # estimate alone would cut a long first epoch (and misjudge its validation time) too early.
        if self._mark is None:
            self._mark = (now, batch)
        elif batch - self._mark[1] >= PROBE_STEPS:
            self.step_s = (now - self._mark[0]) / (batch - self._mark[1])
            self._mark = (now, batch)
        # Last resort inside an epoch whose rest no longer fits: train on while one more step, the epoch's
        # validation and the tail still fit, then stop (the time left is worth more as steps than idle).
        if self.step_s is not None and batch + 1 < self.steps:
            rest = self.step_s + self._val_estimate() + self.tail_s()
            if self.elapsed() + rest > self.planner.budget_s:
                self.model.stop_training = True
                self.cut_after_steps = batch + 1

    def on_test_begin(self, logs=None):
        self._t_val = self.clock()

    def on_test_end(self, logs=None):
        self.val_s = self.clock() - self._t_val

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        took = now - (self._t_last_end if self._t_last_end is not None else self._t_epoch)
        self._t_last_end = now
        if epoch > self.initial_epoch or self.step_s is None:
            self.epoch_s = took  # a later epoch: its whole wall time (training, validation, last checkpoint)
            self.step_s = max(0.0, took - (self.val_s or 0.0)) / self.steps
        else:  # the first epoch includes compiling: estimate from the probe's step time + measured validation
            self.epoch_s = self.step_s * self.steps + (self.val_s or 0.0) + 0.5
        self._recent.append(self.epoch_s)
        typical = sorted(self._recent[-RECENT:])[len(self._recent[-RECENT:]) // 2]
        before = self.planner.epochs
        self._follow(self.planner.plan(self.elapsed(), epoch + 1, typical, self.tail_s()), epoch + 1,
                     first=before is None)
        if before is None or self.length.epochs != before:
            self._announce(epoch + 1)
        if self.state is not None:
            self.state.planned_epochs = self.length.epochs
            self.state.run_length = self.length.to_json()
        if epoch + 1 >= self.length.epochs:
            self.model.stop_training = True
