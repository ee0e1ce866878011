"""Learning-rate range finder (Smith 2015; the fast.ai / pyimagesearch recipe notebook 000 used).

Train for up to N steps while the learning rate grows exponentially from `min_lr` to `max_lr`, one value per
batch, recording the loss of every batch and its exponentially weighted average (bias-corrected; `beta` defaults to
`min(0.98, 1 - 10 / steps)`, i.e. an averaging window of about a tenth of a short sweep, 50 steps for long ones,
so the smoothing does not lag the curve by a large part of the sweep).
The sweep stops early when the loss diverges (smoothed loss > 4 x the best so far, or not finite).

Suggestion rule (`suggest_range`), on the smoothed loss against log10(lr), ignoring everything after its
minimum (the divergence side):

- `high`: the learning rate at the minimum smoothed loss (just before divergence);
- `low`: the learning rate of steepest descent (most negative slope, central differences over a small window,
  the first 5% of the sweep skipped as warm-up noise);
- `suggested`: `max(low, high / 10)`, one decade below the minimum but never below the steepest point.

`lr_find_run` sweeps a recipe's compiled model on a competition's augmented training data and saves the result
where recipes with `optimizer.lr = "finder"` find it (what `kk lr-find` runs).

Example:

    result = find_lr(model, train_ds, steps=200)        # model compiled; weights restored afterwards
    print(result.low, result.high, result.suggested)
    plot_lr_finder(result, "runs/lr_find.png"); result.save("runs/lr_find.json")
    found = lr_find_run(Competition.open("datasets/digit-recognizer"), load_recipe("default"))
    found.suggested_lr
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from kaggle_kit.io import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from kaggle_kit.competition import Competition
    from kaggle_kit.training.config import RecipeConfig

DIVERGENCE = 4.0
SKIP_FRACTION = 0.05


@dataclass
class LRFinderResult:
    """A sweep: per-step `lrs`, raw `losses`, `smoothed` losses, and the suggested range."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    low: float
    high: float
    suggested: float
    min_lr: float
    max_lr: float
    steps: int
    diverged: bool = False
    meta: dict = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        # JSON has no NaN/inf: a diverged step's loss becomes null
        for key in ("losses", "smoothed"):
            data[key] = [v if math.isfinite(v) else None for v in data[key]]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> LRFinderResult:
        data = json.loads(text)
        for key in ("losses", "smoothed"):
            data[key] = [float("nan") if v is None else float(v) for v in data[key]]
        return cls(**data)

    def save(self, path) -> Path:
        return atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path) -> LRFinderResult:
        return cls.from_json(Path(path).read_text())


def default_beta(steps: int) -> float:
    """Smoothing factor for a sweep of `steps` steps: window ~ steps / 10, at most 50 steps (beta 0.98)."""
    return float(min(0.98, max(0.5, 1.0 - 10.0 / steps)))


def smooth(losses, beta: float = 0.98) -> np.ndarray:
    """Exponentially weighted moving average with bias correction (`avg / (1 - beta**(i+1))`)."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return np.asarray(out, dtype=float)


def suggest_range(lrs, losses) -> tuple[float, float, float]:
    """`(low, high, suggested)` from a sweep's learning rates and (smoothed) losses; rule in the module docstring."""
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    if len(lrs) != len(losses) or len(lrs) < 3:
        raise ValueError(f"suggest_range: need >= 3 matching points, got {len(lrs)} lrs and {len(losses)} losses")
    finite = np.isfinite(losses)
    if not finite.any():
        raise ValueError("suggest_range: every loss is NaN or infinite")
    n_ok = int(np.argmin(finite)) if not finite.all() else len(losses)  # stop at the first non-finite loss
    i_min = int(np.nanargmin(losses[:n_ok]))
    high = float(lrs[i_min])
    skip = max(1, int(SKIP_FRACTION * len(lrs)))
    if i_min <= skip:  # the loss never went down: nothing better than the start of the sweep
        return float(lrs[0]), high, float(lrs[0])
    x = np.log10(lrs[: i_min + 1])
    y = losses[: i_min + 1]
    w = max(1, (i_min + 1) // 40)  # slope over a small window tames per-batch noise
    idx = np.arange(skip, i_min + 1)
    lo, hi = np.clip(idx - w, 0, i_min), np.clip(idx + w, 0, i_min)
    slope = (y[hi] - y[lo]) / np.maximum(x[hi] - x[lo], 1e-12)
    low = float(lrs[idx[int(np.argmin(slope))]])
    return low, high, max(low, high / 10.0)


class LRFinder(keras.callbacks.Callback):
    """Exponential learning-rate sweep, one rate per batch, for use with `model.fit`.

    Keras reports each batch's loss as the running mean since the epoch started; the finder recovers the
    batch's own loss from consecutive means (exact for equal batch sizes: use a repeated dataset).

    Example:

        finder = LRFinder(min_lr=1e-6, max_lr=1.0, steps=100)
        model.fit(ds.repeat(), epochs=1, steps_per_epoch=100, callbacks=[finder], verbose=0)
        finder.result().suggested
    """

    def __init__(self, min_lr: float = 1e-7, max_lr: float = 1.0, steps: int = 100, beta: float | None = None,
                 divergence: float = DIVERGENCE):
        super().__init__()
        if not 0 < min_lr < max_lr:
            raise ValueError(f"LRFinder: need 0 < min_lr < max_lr, got {min_lr}, {max_lr}")
        if steps < 3:
            raise ValueError(f"LRFinder: need at least 3 steps, got {steps}")
        self.min_lr, self.max_lr, self.steps = float(min_lr), float(max_lr), int(steps)
        self.beta = default_beta(self.steps) if beta is None else float(beta)
        self.divergence = divergence
        self.factor = (self.max_lr / self.min_lr) ** (1.0 / (self.steps - 1))
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.diverged = False

    def lr_for_step(self, step: int) -> float:
        return self.min_lr * self.factor**step

    def on_train_begin(self, logs=None):
        self.lrs, self.losses, self.smoothed, self.diverged = [], [], [], False
        self._avg, self._best = 0.0, math.inf
        self.model.optimizer.learning_rate = self.lr_for_step(0)

    def on_epoch_begin(self, epoch, logs=None):
        self._prev_mean, self._prev_n = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        mean, n = float(logs["loss"]), batch + 1
        loss = (n * mean - self._prev_n * self._prev_mean) / max(n - self._prev_n, 1)
        self._prev_mean, self._prev_n = mean, n
        step = len(self.lrs)
        self.lrs.append(self.lr_for_step(step))
        self.losses.append(loss)
        if math.isfinite(loss):
            self._avg = self.beta * self._avg + (1 - self.beta) * loss
            smoothed = self._avg / (1 - self.beta ** (step + 1))
        else:
            smoothed = float("nan")
        self.smoothed.append(smoothed)
        if not math.isfinite(smoothed) or smoothed > self.divergence * self._best:
            self.diverged = True
            self.model.stop_training = True
            return
        self._best = min(self._best, smoothed)
        if step + 1 >= self.steps:
            self.model.stop_training = True
        else:
            self.model.optimizer.learning_rate = self.lr_for_step(step + 1)

    def result(self) -> LRFinderResult:
        low, high, suggested = suggest_range(self.lrs, self.smoothed)
        return LRFinderResult(list(self.lrs), list(self.losses), list(self.smoothed), low, high, suggested,
                              self.min_lr, self.max_lr, self.steps, self.diverged)


def find_lr(model: keras.Model, dataset, steps: int = 100, min_lr: float = 1e-7, max_lr: float = 1.0,
            beta: float | None = None, on_step: Callable[[int, int], None] | None = None) -> LRFinderResult:
    """Sweep `model` (compiled) over batches of `dataset` (a `tf.data.Dataset` of `(x, y)` batches, repeated as
    needed) and return the result. The model's weights, the optimizer's state and its learning rate are
    restored afterwards, so the same model can then be trained from its initial state.
    """
    if getattr(model, "optimizer", None) is None:
        raise ValueError("find_lr: compile the model first (it needs an optimizer and a loss)")
    finder = LRFinder(min_lr, max_lr, steps, beta=beta)
    weights = model.get_weights()
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    opt_state = [keras.ops.convert_to_numpy(v) for v in optimizer.variables]
    lr0 = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    try:
        callbacks: list = [finder]
        if on_step:  # (step done, steps): progress for a caller's bar
            callbacks.append(keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs=None: on_step(b + 1, steps)))
        model.fit(dataset.repeat(), epochs=1, steps_per_epoch=steps, callbacks=callbacks, verbose=0, shuffle=False)
    finally:
        model.set_weights(weights)
        for var, value in zip(optimizer.variables, opt_state):
            var.assign(value)
        optimizer.learning_rate = lr0
    return finder.result()


def plot_lr_finder(result: LRFinderResult, path) -> Path:
    """PNG: loss vs learning rate (log x), raw and smoothed, the range shaded and the suggestion marked."""
    from matplotlib.figure import Figure

    lrs = np.asarray(result.lrs)
    raw, sm = np.asarray(result.losses), np.asarray(result.smoothed)
    fig = Figure(figsize=(7, 4.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(lrs, raw, color="tab:blue", alpha=0.25, lw=0.8, label="loss (per batch)")
    ax.plot(lrs, sm, color="tab:blue", lw=2, label="smoothed")
    ax.axvspan(result.low, result.high, color="tab:green", alpha=0.12, label="range (steepest to minimum)")
    at = float(np.interp(np.log10(result.suggested), np.log10(lrs), np.nan_to_num(sm, nan=np.nanmax(sm))))
    ax.plot([result.suggested], [at], "o", color="tab:red", ms=8, label=f"suggested {result.suggested:.2e}")
    ax.set_xscale("log")
    finite = sm[np.isfinite(sm)]
    if finite.size:  # zoom on the interesting part: from below the lowest loss to a bit above the start
        bottom = min(float(finite.min()), float(np.nanmin(np.where(np.isfinite(raw), raw, np.nan))))
        top = max(min(float(finite.max()), float(finite[0]) * 1.5), float(finite.min()) * 1.1) + 1e-9
        ax.set_ylim(bottom - 0.05 * (top - bottom), top)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.set_title(f"LR range test: {len(lrs)} steps" + (", stopped at divergence" if result.diverged else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return path


# ---- the sweep of a recipe on a competition (`kk lr-find`) -------------------------------------------------------
@dataclass
class LRFindOutput:
    """Where `lr_find_run` saved its sweep and what it suggests."""

    result: LRFinderResult
    json_path: Path
    png_path: Path
    suggested_lr: float

    def summary(self) -> str:
        r = self.result
        note = " (the sweep stopped at divergence)" if r.diverged else ""
        return (f"suggested learning rate {self.suggested_lr:.2e}; useful range {r.low:.2e} (steepest descent) .. "
                f"{r.high:.2e} (minimum loss){note}")


def lr_find_run(competition: Competition, recipe: RecipeConfig, out_dir: str | Path | None = None,
                steps: int = 200, min_lr: float = 1e-7, max_lr: float = 1.0,
                on_step: Callable[[int, int], None] | None = None) -> LRFindOutput:
    """Run the LR range finder on the recipe's model, loss, optimizer and augmented training data.

    Saves `lr_finder.json` + `lr_finder.png` in `out_dir` (default `runs/<competition>/lr-find/<timestamp>/`,
    where recipes with `optimizer.lr = "finder"` look for the newest one).
    """
    from kaggle_kit.training import runs
    from kaggle_kit.training.data import train_dataset
    from kaggle_kit.training.fold_keras import compile_model
    from kaggle_kit.training.folds import stratified_sample
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
    model = compile_model(recipe, competition.spec, info.strategy)
    ds = train_dataset(x, y, competition.spec.num_classes, recipe.batch_size, recipe.augment, seed=recipe.seed)
    result = find_lr(model, ds, steps, min_lr=min_lr, max_lr=max_lr, on_step=on_step)
    result.meta.update(competition=competition.spec.slug, recipe=recipe.name, model=recipe.model.name,
                       batch_size=recipe.batch_size, rows=int(len(x)))
    json_path = result.save(out_dir / "lr_finder.json")
    png_path = plot_lr_finder(result, out_dir / "lr_finder.png")
    return LRFindOutput(result=result, json_path=Path(json_path), png_path=Path(png_path),
                        suggested_lr=float(result.suggested))
