"""Accuracy per CPU-minute on the full digit-recognizer, scored against solution.csv (public + private rows).

    python -m benchmarks.bench_accuracy                                  # everything (hours): make bench-accuracy
    python -m benchmarks.bench_accuracy --recipe default --budget 10     # one recipe at one budget
    python -m benchmarks.bench_accuracy --ensemble                       # default recipe's K-fold ensemble + TTA
    python -m benchmarks.bench_accuracy --ensemble --fill                # ... each fold filling its 30 minutes
    python -m benchmarks.bench_accuracy --recipe default --budget 30 --fill   # more epochs than the recipe's, to fill
    python -m benchmarks.bench_accuracy --table                          # only rebuild the table from saved results

Each job (recipe, budget in minutes) trains ONE model, fold 0 of the recipe's own K folds, with `train_run` (the
code `kk train` runs), the recipe's epochs cut to fit the budget: a short probe first measures the recipe's
seconds per training step and the validation pass on this machine, then `epochs = min(recipe epochs,
floor(budget / epoch seconds))`. The model then predicts the 28,000 test images (`predict_run`, no TTA) and the
submission is scored against `solution.csv`.

The ensemble job trains every fold of the default recipe at the ensemble budget per fold (default 30 min, the same
run folder as the single-model job at that budget, so its fold 0 is reused) and predicts with TTA. Run folders
(`benchmarks/.data/runs/accuracy/<recipe>-<epochs>ep/`) are named by epochs, so budgets that give a recipe the
same epochs share one training.

Resumable at every level: a job's plan (its epochs) is saved before training, kk resumes interrupted folds from
their last epoch and skips finished ones, and each finished job writes `benchmarks/results/accuracy/<job>.json`;
finished jobs are skipped on the next call (`--force` reruns one). The BENCHMARKS.md table is rebuilt after
every job.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import (
    DATA_DIR,
    RESULTS_DIR,
    Row,
    Section,
    absent_section,
    digit_recognizer,
    machine_load,
    report,
    save,
    score_submission,
)
from kaggle_kit.io import atomic_write_json

COMMAND = "python -m benchmarks.bench_accuracy"
TITLE = "Accuracy per CPU-minute (digit-recognizer, scored on solution.csv)"
RECIPES = ["default", "seed000", "seed001", "seed002", "seed003", "seed004"]
BUDGETS = [10, 30]
JOBS_DIR = RESULTS_DIR / "accuracy"
RUNS_DIR = DATA_DIR / "runs" / "accuracy"
PLANS_DIR = RUNS_DIR / "plans"
SINGLE_TARGET, ENSEMBLE_TARGET = 0.9950, 0.9965


def _log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def job_name(recipe: str, budget: float, fill: bool = False) -> str:
    return f"{recipe}-{budget:g}min" + ("-fill" if fill else "")


def probe_epoch_seconds(comp, recipe) -> dict:
    """Seconds per epoch of fold 0 for `recipe` on this machine: timed training steps + a timed validation pass.

    Times at least 3 steps and ~4,000 images after 1-2 untimed steps (tracing, pipeline start).
    """
    import keras

    from kaggle_kit.training.data import eval_dataset, prepare_data, train_dataset
    from kaggle_kit.training.losses import build_loss
    from kaggle_kit.training.models import build_model
    from kaggle_kit.training.optimizers import build_optimizer
    from kaggle_kit.training.recipes import resolve_lr

    recipe, _ = resolve_lr(recipe, comp.spec.slug)
    data = prepare_data(comp, recipe)
    x_tr, y_tr, x_va, y_va, _ = data.fold_arrays(0)
    k = comp.spec.num_classes
    keras.backend.clear_session()
    model = build_model(recipe.model, comp.spec.image_shape, k)
    model.compile(optimizer=build_optimizer(recipe.optimizer, float(recipe.optimizer.lr)), loss=build_loss(recipe.loss),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    B = recipe.batch_size
    skip = 2 if B <= 256 else 1
    n = min(len(x_tr), B * (skip + max(3, math.ceil(4096 / B))))
    marks = {}

    class Marks(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_begin(self, batch, logs=None):
            if batch == skip:
                marks["t0"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            marks["t1"] = time.perf_counter()

    ds = train_dataset(x_tr[:n], y_tr[:n], k, B, recipe.augment, seed=0)
    model.fit(ds, epochs=1, verbose=0, callbacks=[Marks()], shuffle=False)
    timed_steps = math.ceil(n / B) - skip
    step_s = (marks["t1"] - marks["t0"]) / timed_steps
    n_val = min(len(x_va), 4096)
    val = eval_dataset(x_va[:n_val], y_va[:n_val], k, batch_size=max(B, 256))
    model.evaluate(val, verbose=0)  # trace
    t = time.perf_counter()
    model.evaluate(val, verbose=0)
    val_s = (time.perf_counter() - t) * len(x_va) / n_val
    steps_per_epoch = math.ceil(len(x_tr) / B)
    del model
    keras.backend.clear_session()
    # + ~1 s per epoch for the checkpoint, best weights and history kk writes atomically
    return {"step_seconds": step_s, "steps_per_epoch": steps_per_epoch, "val_seconds": val_s,
            "epoch_seconds": steps_per_epoch * step_s + val_s + 1.0, "n_train": len(x_tr), "n_val": len(x_va)}


def plan_job(comp, recipe_name: str, budget: float, fill: bool = False) -> dict:
    """The job's epochs, decided once by a probe and saved (a resumed job must train the same recipe).

    Epochs = what fits the budget, capped at the recipe's own epochs unless `fill`.
    """
    from kaggle_kit.training.recipes import load_recipe

    path = PLANS_DIR / f"{job_name(recipe_name, budget, fill)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    recipe = load_recipe(recipe_name)
    _log(f"{recipe_name}: probing epoch time ({recipe.model.name}, batch {recipe.batch_size})")
    t = time.perf_counter()
    probe = probe_epoch_seconds(comp, recipe)
    fit = max(1, math.floor(budget * 60 / probe["epoch_seconds"]))
    plan = {"recipe": recipe_name, "budget_min": budget, "recipe_epochs": recipe.epochs,
            "epochs": fit if fill else min(recipe.epochs, fit), "fill": fill, "probe": probe, "probe_seconds": time.perf_counter() - t,
            "probe_load": machine_load(), "planned": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    PLANS_DIR.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan)
    _log(f"{recipe_name}: {probe['epoch_seconds']:.0f} s per epoch -> {plan['epochs']} epochs "
         f"(recipe: {recipe.epochs}) in {budget:g} min")
    return plan


def stretch_overrides(recipe, epochs: int) -> list[str]:
    """Overrides that play `recipe`'s learning-rate curve over `epochs` instead of its own epochs.

    A fill job trains longer than the recipe; an epoch-indexed schedule left as it is would spend the extra epochs
    at a vanishing rate (the default's 0.85 per epoch is below 1e-5 of its 2e-3 after 33 epochs). Schedules already
    defined over the run's length (cosine, one-cycle) and the reactive plateau need nothing.
    """
    ratio = recipe.epochs / epochs
    sched = recipe.schedule
    if sched.name == "exponential":
        return [f"schedule.decay={sched.decay ** ratio:.10g}"]
    if sched.name == "step" and sched.boundaries:
        scaled = [max(1, round(b / ratio)) for b in sched.boundaries]
        return [f"schedule.boundaries={json.dumps(scaled)}"]
    return []


def best_checkpoint_minutes(run_dir: Path, fold: int) -> float | None:
    """Minutes of training after which fold `fold` saved the checkpoint it kept (its best epoch), from its history."""
    from kaggle_kit.training.results import read_history
    from kaggle_kit.training.runs import fold_dir, read_json

    fdir = fold_dir(run_dir, fold)
    best = (read_json(fdir / "metrics.json") or {}).get("best_epoch")
    if not best or not (fdir / "history.csv").is_file():
        return None
    history = read_history(fdir / "history.csv")
    return sum(s for e, s in zip(history["epoch"], history["seconds"]) if e <= best) / 60


def run_job(comp, solution: Path, recipe_name: str, budget: float, folds: list[int] | None = None,
            tta: int = 0, name: str | None = None, fill: bool = False) -> dict:
    """Plan, train (resumably), predict and score one job; returns and saves its result."""
    from kaggle_kit.config import apply_overrides
    from kaggle_kit.training.predict import predict_run
    from kaggle_kit.training.recipes import load_recipe
    from kaggle_kit.training.reporting import PlainReporter
    from kaggle_kit.training.trainer import train_run

    name = name or job_name(recipe_name, budget, fill)
    t0 = time.perf_counter()
    plan = plan_job(comp, recipe_name, budget, fill)
    # Named by epochs: jobs whose budgets give the same epochs share the run (kk skips a fold already trained).
    run_dir = RUNS_DIR / f"{recipe_name}-{plan['epochs']}ep"
    base = load_recipe(recipe_name)
    stretch = stretch_overrides(base, plan["epochs"]) if fill else []
    recipe = apply_overrides(base, [f"epochs={plan['epochs']}", *stretch])
    folds = folds if folds is not None else [0]
    _log(f"{name}: training folds {folds} for {plan['epochs']} epochs into {run_dir}")
    result = train_run(comp, recipe, run_dir, folds_to_train=folds, reporter=PlainReporter(print_fn=_log))
    sub = run_dir / f"submission-{name}.csv"
    t = time.perf_counter()
    pred = predict_run(run_dir, comp, tta=tta, folds=folds, out=sub)
    predict_s = time.perf_counter() - t
    score = score_submission(sub, solution)
    fold_metrics = {f.fold: f for f in result.folds}
    out = {
        "job": name, "recipe": recipe_name, "model": recipe.model.name, "budget_min": budget, "folds": folds,
        "fill": fill, "stretch": stretch,
        "k": recipe.folds, "epochs": plan["epochs"], "recipe_epochs": plan["recipe_epochs"],
        "epochs_run": [fold_metrics[f].epochs_run for f in folds],
        "train_seconds": [fold_metrics[f].seconds for f in folds],
        "best_minutes": [best_checkpoint_minutes(run_dir, f) for f in folds],
        "val_accuracy": [fold_metrics[f].val_accuracy for f in folds],
        "images_per_sec": [fold_metrics[f].images_per_sec for f in folds],
        "tta": tta, "predict_seconds": predict_s, "test_accuracy": score["all"], "public": score.get("public"),
        "private": score.get("private"), "n_test": score["n"], "probe_epoch_seconds": plan["probe"]["epoch_seconds"],
        "probe_seconds": plan["probe_seconds"], "job_seconds_this_call": time.perf_counter() - t0,
        "run_dir": str(run_dir), "submission": str(sub), "cv_accuracy": result.metrics.get("cv_accuracy"),
        "weights": pred.weights, "load": machine_load(),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    JOBS_DIR.mkdir(parents=True, exist_ok=True)
    atomic_write_json(JOBS_DIR / f"{name}.json", out)
    _log(f"{name}: test accuracy {score['all']:.5f} (public {score.get('public', float('nan')):.5f}, "
         f"private {score.get('private', float('nan')):.5f})")
    return out


def forget(name: str) -> None:
    """Drop a job's result, plan and run folder (`--force`)."""
    plan = PLANS_DIR / f"{name}.json"
    if plan.is_file():
        info = json.loads(plan.read_text())
        shutil.rmtree(RUNS_DIR / f"{info['recipe']}-{info['epochs']}ep", ignore_errors=True)
        plan.unlink()
    (JOBS_DIR / f"{name}.json").unlink(missing_ok=True)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _fill_words(job: dict) -> str:
    if job.get("stretch"):
        return f" filled with epochs, LR curve stretched ({', '.join(job['stretch'])})"
    if "stretch" in job:
        return " filled with epochs"
    return " filled with epochs, recipe's per-epoch LR decay as is (LR below 1e-5 after ~33 epochs)"


def build_section() -> Section:
    """The accuracy table from every saved job result."""
    jobs = [json.loads(p.read_text()) for p in sorted(JOBS_DIR.glob("*.json"))] if JOBS_DIR.is_dir() else []
    order = {r: i for i, r in enumerate(RECIPES)}
    jobs.sort(key=lambda j: (j["job"].startswith("ensemble"), j["budget_min"], order.get(j["recipe"], 99)))
    rows = []
    for j in jobs:
        train_min = sum(j["train_seconds"]) / 60
        kept = [m for m in j.get("best_minutes") or [] if m is not None]
        desc = (f"{j['epochs']} of {j['recipe_epochs']} epochs, trained {train_min:.1f} min"
                + (f" (kept checkpoint saved at {kept[0]:.1f} min)" if len(kept) == 1 else "")
                + (f" ({len(j['folds'])} folds)" if len(j["folds"]) > 1 else "")
                + f", val {sum(j['val_accuracy']) / len(j['val_accuracy']):.4f}; test {j['test_accuracy']:.5f} "
                  f"(public {j['public']:.5f}, private {j['private']:.5f}); {j.get('finished', '')[:10]}")
        ensemble = len(j["folds"]) > 1
        if ensemble:
            what = (f"ensemble: {j['recipe']} recipe, {len(j['folds'])} folds, budget {j['budget_min']:g} min per fold"
                    + (_fill_words(j) if j.get("fill") else "") + f", TTA {j['tta']}")
            target, met = f">= {ENSEMBLE_TARGET}", j["test_accuracy"] >= ENSEMBLE_TARGET
        else:
            what = (f"{j['recipe']} ({j['model']}), budget {j['budget_min']:g} min"
                    + (_fill_words(j) if j.get("fill") else "") + f", single model (fold 0 of {j['k']})")
            target, met = "", None
            if j["recipe"] == "default" and j["budget_min"] == 30:
                # Within 30 minutes: the scored checkpoint was saved by then (a run may train on past its best epoch).
                target = f">= {SINGLE_TARGET} within 30 min"
                met = j["test_accuracy"] >= SINGLE_TARGET and (kept[0] if kept else train_min) <= 30
        rows.append(Row(what, desc, target, met, extra=j))
    if not rows:
        rows.append(Row("no accuracy job finished yet", "-"))
    full = {}  # what each recipe's own schedule costs per fold here, from the jobs' probes
    for j in sorted(jobs, key=lambda j: j.get("finished", "")):  # the latest probe of each recipe
        if len(j["folds"]) == 1 and not j.get("fill") and "probe_epoch_seconds" in j:
            full[j["recipe"]] = (j["recipe_epochs"], j["probe_epoch_seconds"])
    full = {r: full[r] for r in RECIPES if r in full}
    notes = [
        "Single model = fold 0 of the recipe's own K folds ((K-1)/K of the 42,000 rows), epochs cut to fit the budget "
        "from a probe of the epoch time on this machine (never more than the recipe's own epochs, except in '--fill' jobs, which also stretch an epoch-indexed "
        "learning-rate schedule over their epochs); train time is "
        "the whole epochs (training, validation, checkpoints) as kk train ran them; test = all 28,000 rows of "
        "solution.csv (public and private); no TTA for single models.",
        "These 2 cores are shared with other work, so wall times (and epochs that fit a budget) vary with the load; "
        "the load average at the end of each job is in results/accuracy/<job>.json.",
        "What a recipe's own schedule costs per fold on these 2 cores (recipe epochs x probed seconds per epoch): "
        + "; ".join(f"{r} {e} x {sec:.0f} s = {_duration(e * sec)}" for r, (e, sec) in full.items()) + ".",
        "Commands: `make bench-accuracy` (all jobs, resumable; hours), `python -m benchmarks.run --only accuracy "
        "--recipe NAME --budget MIN [--fill]` (one job), `python -m benchmarks.run --only accuracy --ensemble [--fill]`.",
    ]
    section = Section("accuracy", TITLE, "make bench-accuracy", rows, notes=notes)
    finished = [j["finished"] for j in jobs if j.get("finished")]
    if finished:  # measured when the newest job finished, not when the table was last rebuilt (--table)
        section.date = max(finished)
    return section


def main(argv: list[str] | None = None) -> Section:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipe", nargs="+", help=f"recipes (default: {' '.join(RECIPES)})")
    ap.add_argument("--budget", type=float, nargs="+", help=f"minutes of training (default: {BUDGETS})")
    ap.add_argument("--ensemble", action="store_true", help="only the default recipe's K-fold ensemble with TTA")
    ap.add_argument("--ensemble-budget", type=float, default=30, help="minutes per fold for the ensemble")
    ap.add_argument("--tta", type=int, default=2, help="TTA passes for the ensemble")
    ap.add_argument("--fill", action="store_true",
                    help="fill the budget with epochs even beyond the recipe's own (jobs named <recipe>-<budget>min-fill)")
    ap.add_argument("--force", action="store_true",
                    help="rerun jobs that already have results, from scratch (with the run folder they may share)")
    ap.add_argument("--table", action="store_true", help="only rebuild the table from saved results")
    args = ap.parse_args(argv)
    found = digit_recognizer()
    if found is None:
        section = absent_section("accuracy", TITLE, COMMAND)
        save(section)
        return section
    comp, solution = found
    if not args.table:
        singles = [] if args.ensemble else [(r, b) for b in (args.budget or BUDGETS) for r in (args.recipe or RECIPES)]
        do_ensemble = args.ensemble or not (args.recipe or args.budget)
        for recipe_name, budget in singles:
            name = job_name(recipe_name, budget, args.fill)
            if args.force:
                forget(name)
            if (JOBS_DIR / f"{name}.json").is_file():
                _log(f"{name}: already measured (results/accuracy/{name}.json); --force reruns it")
                continue
            run_job(comp, solution, recipe_name, budget, fill=args.fill)
            save(build_section())
        if do_ensemble:
            from kaggle_kit.training.recipes import load_recipe

            k = load_recipe("default").folds
            name = f"ensemble-default-{args.ensemble_budget:g}min-tta{args.tta}" + ("-fill" if args.fill else "")
            if args.force:
                (JOBS_DIR / f"{name}.json").unlink(missing_ok=True)
            if (JOBS_DIR / f"{name}.json").is_file():
                _log(f"{name}: already measured; --force reruns it")
            else:
                run_job(comp, solution, "default", args.ensemble_budget, folds=list(range(k)), tta=args.tta, name=name,
                        fill=args.fill)
    section = build_section()
    save(section)
    report(section)
    return section


if __name__ == "__main__":
    main()
