"""The invariance probe: find out, per competition, which augmentation families help, before a run trains.

Digit-tuned augmentation does not carry over to every image kind: rotating or shearing a shirt, or flipping a
digit, teaches the wrong thing. The probe trains the recipe's own model briefly with each candidate augmentation
on a stratified sample of the competition's *training* rows (fold 0 of a 5-fold split of the sample; the test
rows and any solution are never looked at) and keeps the recipe's augmentation unless a candidate beats it on
validation accuracy by more than `MARGIN_SE` standard errors (sqrt(p (1 - p) / n) of the validation sample),
and keeps it outright when the probe was too short for the recipe's own augmentation to learn (score under
`INFORMATIVE` x chance, or under `STARTED` x the best candidate's): the comparison would then measure learning
speed, which favours no augmentation (measured on mirror-pairs and digit-recognizer: 10 s per candidate picked
`none` on both). Dropping augmentation altogether (`none`) needs `NONE_MARGIN_SE` standard errors:

| candidate | augmentation |
|---|---|
| `recipe` | the recipe's own (for the default recipe: affine with rotation 10 and shear 5) |
| `none` | none |
| `affine-small` | zoom 0.1, shift 0.1, no rotation, no shear |
| `affine-rotate` | rotation 10, shear 5, zoom 0.1, shift 0.1 |
| `hflip` | affine-small + horizontal flip (p 0.5) |
| `erase` | affine-small + random erasing (p 0.5) |

Every candidate gets the same time budget (`budget`: epochs planned from the measured speed; the probe's
minutes split evenly). Short training favours no augmentation, which is why the incumbent needs a clear beating,
not a tie, to be replaced. The choice and every candidate's score go to the run's `probe.json`, and the
chosen augmentation replaces the recipe's in the run's `config.toml`.

`recipe.probe`: `"off"`, `"on"`, or `"auto"` (the default recipe's: probe only when the run has a time budget;
then the probe gets `probe_share` of one fold's budget, at least one minute; `probe_minutes` sets it outright).

Example:

    result = run_probe(competition, recipe, minutes=3, reporter=PlainReporter())
    result["chosen"], result["augment"]   # e.g. ('hflip', {...})
    recipe = apply_probe(recipe, result)
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kaggle_kit.io import atomic_write_json
from kaggle_kit.training import runs
from kaggle_kit.training.config import RecipeConfig
from kaggle_kit.training.reporting import Reporter

if TYPE_CHECKING:
    from kaggle_kit.competition import Competition

PROBE_FILE = "probe.json"
MARGIN_SE = 1.0  # a candidate replaces the recipe's augmentation only when better by this many standard errors
MIN_MINUTES = 1.0
INFORMATIVE = 2.0  # a probe whose incumbent scores under this many times chance accuracy decides nothing...
STARTED = 0.5  # ...nor one where it has not reached this share of the best candidate's score (still warming up)
NONE_MARGIN_SE = 3.0  # dropping augmentation altogether needs this many standard errors
PROBE_FOLDS = 5  # the sample is split like a run: the probe trains on 4/5 of it and validates on 1/5

_SMALL = {"backend": "graph", "rotation": 0.0, "shear": 0.0, "zoom": 0.1, "shift": 0.1, "p": 1.0,
          "hflip": 0.0, "erase": 0.0}
CANDIDATES: dict[str, dict] = {
    "none": {"backend": "none"},
    "affine-small": _SMALL,
    "affine-rotate": {**_SMALL, "rotation": 10.0, "shear": 5.0},
    "hflip": {**_SMALL, "hflip": 0.5},
    "erase": {**_SMALL, "erase": 0.5},
}


def probe_minutes(recipe: RecipeConfig) -> float | None:
    """Minutes the probe may spend on this recipe, or None when it does not run."""
    if recipe.probe == "off" or (recipe.probe == "auto" and recipe.budget_minutes is None):
        return None
    if recipe.probe_minutes is not None:
        return float(recipe.probe_minutes)
    if recipe.budget_minutes is not None:
        return max(MIN_MINUTES, recipe.probe_share * recipe.budget_minutes)
    return 2.0


def choose(scores: dict[str, float], n_val: int, incumbent: str = "recipe") -> tuple[str, float]:
    """(name, margin): the best-scoring candidate if it beats `incumbent` by more than the margin, else `incumbent`.

    Dropping augmentation (`none`) is what short training favours whatever the images are, so it needs
    `NONE_MARGIN_SE` standard errors, not `MARGIN_SE`.

    Example:
        >>> choose({"recipe": 0.80, "none": 0.81, "hflip": 0.86}, n_val=400)
        ('hflip', 0.02)
        >>> choose({"recipe": 0.99, "none": 0.992}, n_val=400)[0]
        'recipe'
        >>> choose({"recipe": 0.80, "none": 0.84}, n_val=400)[0]  # 2 SE better: not enough to drop augmentation
        'recipe'
    """
    base = scores[incumbent]
    se = math.sqrt(max(base * (1 - base), 1e-4) / max(n_val, 1))

    def beats(k: str) -> bool:
        return scores[k] > base + (NONE_MARGIN_SE if k == "none" else MARGIN_SE) * se

    winners = [k for k in scores if k != incumbent and beats(k)]
    best = max(winners, key=lambda k: scores[k]) if winners else incumbent
    return best, round(MARGIN_SE * se, 4)


def is_informative(scores: dict[str, float], num_classes: int, incumbent: str = "recipe") -> bool:
    """Whether the probe says anything: the incumbent itself learned (>= `INFORMATIVE` x chance, and at least
    `STARTED` x the best candidate's score).

    A probe too short for the recipe's own augmentation to learn measures how fast each candidate starts
    learning, which favours no augmentation whatever the images are (measured: BENCHMARKS.md, budget section).
    """
    return scores[incumbent] >= max(INFORMATIVE / num_classes, STARTED * max(scores.values()))


def run_probe(competition: Competition, recipe: RecipeConfig, minutes: float,
              reporter: Reporter | None = None) -> dict:
    """Train each candidate for `minutes / len(candidates)` on a sample of the training rows; return the result.

    One model is built and compiled once; every candidate starts from the same initial weights and a fresh
    optimizer state, so no candidate pays for compiling (augmentation runs in the input pipeline, not the model).
    """
    import keras
    import numpy as np

    from kaggle_kit.training.budget import BudgetCallback, BudgetPlanner
    from kaggle_kit.training.data import eval_dataset, train_dataset
    from kaggle_kit.training.fold_keras import compile_model, fold_seed
    from kaggle_kit.training.folds import assign_folds, stratified_sample
    from kaggle_kit.training.schedules import RunLength, build_schedule_callbacks
    from kaggle_kit.training.strategy import detect_strategy, fresh_session, set_determinism

    reporter = reporter or Reporter()
    t0 = time.perf_counter()
    spec = competition.spec
    x, y = competition.train_arrays()
    sample = stratified_sample(y, recipe.probe_rows, recipe.seed)
    assignment = assign_folds(y, PROBE_FOLDS, recipe.seed, rows=sample)
    tr, va = assignment.train_rows(0), assignment.val_rows(0)
    x_tr, y_tr, x_va, y_va = x[tr], y[tr], x[va], y[va]
    candidates = {"recipe": recipe.augment.model_dump(), **{
        k: {**recipe.augment.model_dump(), **v} for k, v in CANDIDATES.items()}}
    each = minutes / len(candidates)
    reporter.message(f"augmentation probe: {len(candidates)} candidates x {each * 60:.0f} s on {len(sample)} "
                     f"training rows (fold 0 of {PROBE_FOLDS})")
    strategy = detect_strategy(mixed_precision=recipe.mixed_precision)
    fresh_session()
    set_determinism(fold_seed(recipe.seed, 0), recipe.deterministic)
    model = compile_model(recipe, spec, strategy.strategy)
    val_ds = eval_dataset(x_va, y_va, spec.num_classes, batch_size=max(recipe.batch_size, 256))
    weights0 = model.get_weights()
    # Trace the training and evaluation steps once, on one batch, before any candidate's clock starts.
    warm = train_dataset(x_tr, y_tr, spec.num_classes, recipe.batch_size, None, seed=0).take(1)
    model.fit(warm, validation_data=val_ds.take(1), epochs=1, verbose=0, shuffle=False)
    opt0 = [np.zeros_like(keras.ops.convert_to_numpy(v)) for v in model.optimizer.variables]
    steps = max(1, math.ceil(len(x_tr) / recipe.batch_size))
    rows = []
    for name, aug in candidates.items():
        model.set_weights(weights0)
        for v, a in zip(model.optimizer.variables, opt0):
            v.assign(a)  # iterations and moments back to zero: every candidate starts the same way
        t_start = time.perf_counter()
        augment = recipe.augment.model_validate(aug)
        ds = train_dataset(x_tr, y_tr, spec.num_classes, recipe.batch_size, augment, seed=fold_seed(recipe.seed, 0))
        # until the first plan the schedule reads the recipe's epochs (the cap would stretch the warm-up)
        length = RunLength(min(recipe.epochs, recipe.budget_max_epochs))
        planner = BudgetPlanner(60.0 * each, max_epochs=recipe.budget_max_epochs)
        budget = BudgetCallback(planner, length, t_start, steps, len(x_tr), len(x_va), n_tail=0, cut_first_epoch=True)
        callbacks = [*build_schedule_callbacks(recipe.schedule, float(recipe.optimizer.lr), length, steps), budget]
        hist = model.fit(ds, validation_data=val_ds, epochs=recipe.budget_max_epochs, callbacks=callbacks, verbose=0,
                         shuffle=False)
        acc = hist.history.get("val_accuracy", [float("nan")])
        rows.append({"name": name, "augment": aug, "val_accuracy": float(acc[-1]), "best_val_accuracy": max(acc),
                     "epochs": len(acc), "seconds": round(time.perf_counter() - t_start, 1)})
        reporter.message(f"  probe {name:<13} val accuracy {acc[-1]:.4f} after {len(acc)} epochs "
                         f"({describe(aug)})")
    scores = {r["name"]: r["val_accuracy"] for r in rows}
    chosen, margin = choose(scores, len(va))
    chance = 1.0 / spec.num_classes
    if not (informative := is_informative(scores, spec.num_classes)):  # nothing learned yet: differences are noise, whatever their size
        chosen = "recipe"
        reporter.message(f"augmentation probe inconclusive: the recipe's own augmentation scored "
                         f"{scores['recipe']:.4f}, under {INFORMATIVE:g}x chance ({chance:.3f}), so the comparison "
                         f"measures learning speed; keeping it (give the probe more time: probe_minutes)")
    result = {"chosen": chosen, "augment": candidates[chosen], "incumbent": "recipe", "margin": margin,
              "informative": informative,
              "n_train": len(tr), "n_val": len(va), "minutes": minutes,
              "seconds": round(time.perf_counter() - t0, 1), "candidates": rows}
    reporter.message(f"augmentation probe chose {chosen!r} ({describe(candidates[chosen])}); a candidate replaces "
                     f"the recipe's augmentation only when better by more than {margin:.4f}")
    fresh_session()
    return result


def describe(aug: dict) -> str:
    if aug.get("backend") == "none":
        return "no augmentation"
    keys = ("rotation", "shear", "zoom", "shift", "hflip", "erase")
    return ", ".join(f"{k} {aug[k]:g}" for k in keys if aug.get(k)) or "identity"


def apply_probe(recipe: RecipeConfig, result: dict) -> RecipeConfig:
    """`recipe` with the probe's chosen augmentation."""
    return recipe.model_copy(update={"augment": recipe.augment.model_validate(result["augment"])})


def probe_run(run_dir: Path, competition: Competition, recipe: RecipeConfig, reporter: Reporter) -> RecipeConfig:
    """Before a run trains: run the probe if the recipe asks for one and the run has none yet; apply its choice."""
    path = Path(run_dir) / PROBE_FILE
    minutes = probe_minutes(recipe)
    if minutes is None:
        return recipe
    result = runs.read_json(path)
    if not result:
        if (Path(run_dir) / runs.RUN_FILE).is_file():
            return recipe  # a run started without a probe (older kk): its config.toml says what it trains
        result = run_probe(competition, recipe, minutes, reporter)
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, result)
    else:
        reporter.message(f"augmentation probe ({path.name}): {result['chosen']!r}: {describe(result['augment'])}")
    return apply_probe(recipe, result)
