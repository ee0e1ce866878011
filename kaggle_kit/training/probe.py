"""The invariance probe: find out, per competition, which augmentation families keep an image's class.

Digit-tuned augmentation does not carry over to every image kind: flipping a 2 or a 7 changes what it shows,
flipping a shirt does not; rotating a texture is harmless, rotating a "6" is not. Instead of assuming digits, the
probe asks the competition's own training rows. It trains one model (the *instrument*) on a stratified sample
(fold 0 of a 5-fold split of the sample; the test rows and any solution are never looked at) with only zoom and
shift, the nuisances every family here shares, then scores it on the validation rows as they are and transformed
by each family at full strength:

| family | transform of the validation rows | the recipe's augmentation keeps... |
|---|---|---|
| `hflip` | every image flipped left-right | `hflip = 0.5` when kept, `0` when not |
| `rotate` | the recipe's rotation and shear (at least 10 and 5 degrees) | its `rotation`/`shear` when kept, `0` when not |

A family *holds* when the instrument, which never saw a transformed image, still recognises transformed
validation images: their accuracy keeps at least `KEEP` of the clean accuracy's margin over chance
(`retention = (acc_T - chance) / (acc_clean - chance)`). A transform that changes the class sends the
instrument toward chance or below (digits flipped: 0.3-0.4 retention), one that keeps it leaves the images in
their class's region of the data (a flipped mirror-pair is another mirror-pair of the same class: ~1.0).
Unlike training one model per candidate, this measures invariance, not which candidate learns fastest in a
few seconds (the earlier probe's failure: it picked "no augmentation" everywhere, BENCHMARKS.md).

An instrument that has not learned (clean accuracy less than `LEARNED` of the way from chance to 1) decides nothing: the recipe's
augmentation is kept. The verdicts and every accuracy go to the run's `probe.json`, and the resulting
augmentation replaces the recipe's in the run's `config.toml`.

`recipe.probe`: `"off"`, `"on"`, or `"auto"` (the default recipe's: probe whenever the recipe augments and the
competition has at least `AUTO_MIN_ROWS` training rows). Its time
is `probe_minutes` when set, else `probe_share` of a fold's budget within [`MIN_MINUTES`, `MAX_MINUTES`], else
`DEFAULT_MINUTES`.

Example:

    result = run_probe(competition, recipe, minutes=1, reporter=PlainReporter())
    result["verdicts"]            # e.g. {'hflip': False, 'rotate': True}
    recipe = apply_probe(recipe, result)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from kaggle_kit.io import atomic_write_json
from kaggle_kit.training import runs
from kaggle_kit.training.config import AugmentConfig, RecipeConfig
from kaggle_kit.training.reporting import Reporter

if TYPE_CHECKING:
    from kaggle_kit.competition import Competition

PROBE_FILE = "probe.json"
KEEP = 0.75  # a family holds when transformed images keep this share of the clean accuracy's margin over chance
LEARNED = 0.5  # an instrument that has not come this share of the way from chance to perfect decides nothing
DEFAULT_MINUTES = 1.0
MIN_MINUTES, MAX_MINUTES = 0.5, 3.0
PROBE_FOLDS = 5  # the sample is split like a run: the instrument trains on 4/5 of it and is scored on 1/5
MIN_ROTATION, MIN_SHEAR = 10.0, 5.0  # rotate is tested at least this strongly, so a recipe without it can gain it
FLIP = 0.5  # the flip probability a holding hflip family gets
# "auto" skips competitions this small: 1/5 of their rows cannot tell a family's retention from noise, and the
# probe would cost more than their training
AUTO_MIN_ROWS = 2000

_NEUTRAL = {"backend": "graph", "rotation": 0.0, "shear": 0.0, "zoom": 0.1, "shift": 0.1, "p": 1.0,
            "hflip": 0.0, "erase": 0.0}


def probe_minutes(recipe: RecipeConfig) -> float | None:
    """Minutes the probe may spend on this recipe, or None when it does not run.

    Example:
        >>> from kaggle_kit.training.recipes import load_recipe
        >>> probe_minutes(load_recipe("default", ["budget_minutes=10"]))
        1.0
        >>> probe_minutes(load_recipe("default", ['probe="off"'])) is None
        True
    """
    if recipe.probe == "off" or (recipe.probe == "auto" and recipe.augment.backend == "none"):
        return None
    if recipe.probe_minutes is not None:
        return float(recipe.probe_minutes)
    if recipe.budget_minutes is not None:
        return min(MAX_MINUTES, max(MIN_MINUTES, recipe.probe_share * recipe.budget_minutes))
    return DEFAULT_MINUTES


def families(augment: AugmentConfig) -> dict[str, dict]:
    """The transforms the probe applies to the validation rows, at full strength (`p` 1), by family name."""
    rotate = {**_NEUTRAL, "zoom": 0.0, "shift": 0.0, "rotation": max(augment.rotation, MIN_ROTATION),
              "shear": max(augment.shear, MIN_SHEAR), "interpolation": augment.interpolation}
    return {"hflip": {**_NEUTRAL, "zoom": 0.0, "shift": 0.0, "hflip": 1.0}, "rotate": rotate}


def retention(accuracy: float, clean: float, chance: float) -> float:
    """The share of the clean accuracy's margin over chance that transformed images keep (may be negative).

    Example:
        >>> round(retention(0.55, clean=0.95, chance=0.1), 3)   # digits flipped: far from the clean 0.95
        0.529
        >>> retention(0.95, clean=0.95, chance=0.1)
        1.0
    """
    return (accuracy - chance) / max(clean - chance, 1e-9)


def decide(accuracies: dict[str, float], clean: float, num_classes: int) -> tuple[bool, dict[str, bool]]:
    """(informative, {family: holds}) from the instrument's clean and per-family validation accuracies.

    Example:
        >>> decide({"hflip": 0.41, "rotate": 0.93}, clean=0.96, num_classes=10)   # digits
        (True, {'hflip': False, 'rotate': True})
        >>> decide({"hflip": 0.95, "rotate": 0.90}, clean=0.96, num_classes=10)[1]   # mirror-pairs
        {'hflip': True, 'rotate': True}
        >>> decide({"hflip": 0.12, "rotate": 0.13}, clean=0.15, num_classes=10)   # nothing learned yet
        (False, {})
    """
    chance = 1.0 / num_classes
    if clean < chance + LEARNED * (1.0 - chance):
        return False, {}
    return True, {k: retention(a, clean, chance) >= KEEP for k, a in accuracies.items()}


def probed_augment(augment: AugmentConfig, verdicts: dict[str, bool]) -> AugmentConfig:
    """The recipe's augmentation with each probed family switched on or off as its verdict says.

    Example:
        >>> a = AugmentConfig(rotation=10, shear=5)
        >>> b = probed_augment(a, {"hflip": True, "rotate": False})
        >>> (b.hflip, b.rotation, b.shear, b.zoom)
        (0.5, 0.0, 0.0, 0.1)
    """
    update: dict[str, float] = {}
    if "hflip" in verdicts:
        update["hflip"] = (augment.hflip or FLIP) if verdicts["hflip"] else 0.0
    if "rotate" in verdicts:
        rotate = families(augment)["rotate"]
        update["rotation"], update["shear"] = ((rotate["rotation"], rotate["shear"]) if verdicts["rotate"]
                                               else (0.0, 0.0))
    return augment.model_copy(update=update)


def run_probe(competition: Competition, recipe: RecipeConfig, minutes: float,
              reporter: Reporter | None = None) -> dict:
    """Train the instrument for `minutes` on a sample of the training rows, score each family; return the result."""
    import numpy as np

    from kaggle_kit.training.augment import augment_batch
    from kaggle_kit.training.budget import BudgetCallback, BudgetPlanner
    from kaggle_kit.training.data import data_parallel_replicas, eval_dataset, predict_probs, train_dataset
    from kaggle_kit.training.fold_keras import Batching, compile_model, fold_seed
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
    reporter.message(f"invariance probe: training one model for {minutes * 60:.0f} s on {len(tr)} training rows, "
                     f"then scoring {len(va)} held-out rows flipped and rotated")
    strategy = detect_strategy(mixed_precision=recipe.mixed_precision)
    fresh_session()
    seed = fold_seed(recipe.seed, 0)
    set_determinism(seed, recipe.deterministic)
    # shaped like a fold's batches: on a data-parallel mesh (8 TPU cores under JAX) every batch must split evenly
    batching = Batching.of(recipe.batch_size, strategy, len(x_tr))
    model = compile_model(recipe, spec, strategy.strategy, batching.steps_per_execution)
    neutral = recipe.augment.model_validate(_NEUTRAL)
    steps = batching.steps
    length = RunLength(min(recipe.epochs, recipe.budget_max_epochs))
    t_start = time.perf_counter()
    planner = BudgetPlanner(60.0 * minutes, max_epochs=recipe.budget_max_epochs)
    budget = BudgetCallback(planner, length, t_start, steps, len(x_tr), len(x_va), n_tail=0)
    callbacks = [*build_schedule_callbacks(recipe.schedule, float(recipe.optimizer.lr), length, steps), budget]
    hist = model.fit(train_dataset(x_tr, y_tr, spec.num_classes, batching.global_batch, neutral, seed=seed,
                                   drop_remainder=batching.drop_remainder),
                     validation_data=eval_dataset(x_va, y_va, spec.num_classes, batch_size=batching.eval_batch,
                                                  pad_to=data_parallel_replicas()),
                     epochs=recipe.budget_max_epochs, callbacks=callbacks, verbose=0, shuffle=False)
    epochs = len(hist.history.get("loss", []))

    def accuracy(images: np.ndarray) -> float:
        return float((predict_probs(model, images).argmax(axis=1) == y_va).mean())

    clean = accuracy(x_va)
    transforms = families(recipe.augment)
    accuracies = {name: accuracy(augment_batch(x_va, recipe.augment.model_validate(t), seed=seed))
                  for name, t in transforms.items()}
    informative, verdicts = decide(accuracies, clean, spec.num_classes)
    augment = probed_augment(recipe.augment, verdicts)
    chance = 1.0 / spec.num_classes
    result = {"informative": informative, "verdicts": verdicts, "augment": augment.model_dump(),
              "clean_accuracy": clean, "accuracies": accuracies,
              "retention": {k: round(retention(a, clean, chance), 4) for k, a in accuracies.items()},
              "keep": KEEP, "transforms": transforms, "epochs": epochs,
              "n_train": len(tr), "n_val": len(va), "minutes": minutes,
              "seconds": round(time.perf_counter() - t0, 1)}
    for name, acc in accuracies.items():
        reporter.message(f"  {name:<7} accuracy {acc:.4f} of clean {clean:.4f}: retention "
                         f"{result['retention'][name]:.2f} -> {'holds' if verdicts.get(name) else 'does not hold'}")
    if not informative:
        reporter.message(f"invariance probe inconclusive: the instrument reached only {clean:.4f} in {epochs} epochs; "
                         f"keeping the recipe's augmentation (give it more time: probe_minutes)")
    reporter.message(f"invariance probe: training with {describe(result['augment'])}")
    fresh_session()
    return result


def describe(aug: dict) -> str:
    if aug.get("backend") == "none":
        return "no augmentation"
    keys = ("rotation", "shear", "zoom", "shift", "hflip", "erase")
    return ", ".join(f"{k} {aug[k]:g}" for k in keys if aug.get(k)) or "identity"


def apply_probe(recipe: RecipeConfig, result: dict) -> RecipeConfig:
    """`recipe` with the probe's augmentation."""
    return recipe.model_copy(update={"augment": recipe.augment.model_validate(result["augment"])})


def probe_run(run_dir: Path, competition: Competition, recipe: RecipeConfig, reporter: Reporter) -> RecipeConfig:
    """Before a run trains: run the probe if the recipe asks for one and the run has none yet; apply its result."""
    path = Path(run_dir) / PROBE_FILE
    minutes = probe_minutes(recipe)
    if minutes is None:
        return recipe
    result = runs.read_json(path)
    if not result:
        if (Path(run_dir) / runs.RUN_FILE).is_file():
            return recipe  # a run started without a probe (older kk): its config.toml says what it trains
        if recipe.probe == "auto" and (n := competition.spec.train_rows) < AUTO_MIN_ROWS:
            reporter.message(f"invariance probe skipped: {n} training rows, under {AUTO_MIN_ROWS} "
                             f"(probe = \"on\" runs it anyway); training with {describe(recipe.augment.model_dump())}")
            return recipe
        result = run_probe(competition, recipe, minutes, reporter)
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, result)
    else:
        reporter.message(f"invariance probe ({path.name}): training with {describe(result['augment'])}")
    return apply_probe(recipe, result)
