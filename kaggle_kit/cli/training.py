"""`kk train`, `kk lr-find`, `kk predict`, `kk augment-preview`, `kk recipes`: the training engine.

Commands parse flags into a recipe, call `kaggle_kit.training`, and render progress with rich (the library
itself only talks to a `Reporter`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress
from rich.table import Table

from kaggle_kit.cli.common import (
    CompetitionArg,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    LimitOpt,
    QuietOpt,
    RecipeOpt,
    SetOpt,
    announce,
    console,
    emit_json,
    err_console,
)
from kaggle_kit.cli.progress import step_bar, training_progress
from kaggle_kit.config import flag_overrides
from kaggle_kit.errors import KKError
from kaggle_kit.training.config import ExtraData
from kaggle_kit.training.recipes import resolve_recipe
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.results import FoldStatus


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("lr-find")(lr_find_cmd)
    app.command("predict")(predict_cmd)
    app.command("recipes")(recipes_cmd)
    app.command("augment-preview")(augment_preview_cmd)
    app.command("blend")(blend_cmd)


# --- shared helpers ----------------------------------------------------------------------------------------------

def _open_competition(competition: str | None, data_dir: Path | None, quiet: bool = False):
    from kaggle_kit.competition import Competition
    from kaggle_kit.project import resolve_competition

    ref = resolve_competition(competition, data_dir)
    announce(ref, quiet=quiet)
    return Competition.open(ref.data_dir, slug=ref.slug)


def _fmt(x, spec: str = ".4f") -> str:
    return "-" if x is None else format(x, spec)


# --- kk train -------------------------------------------------------------------------------------------------

class RichReporter(Reporter):
    """Rich progress for `kk train`: an overall bar (every fold's steps), a bar per fold and per epoch, each with
    its ETA and rate; "compiling the model..." until the first step; a line per epoch; a summary."""

    def __init__(self, quiet: bool = False, as_json: bool = False):
        self.quiet = quiet or as_json
        self.as_json = as_json
        self.wants_batches = not self.quiet
        self.progress: Progress | None = None
        self.overall_task = None
        self.fold_task = None
        self.epoch_task = None
        self.folds_left = 0
        self.fold_size = 0  # steps of a whole fold: the folds still to come are assumed as long
        self.overall_done = 0  # steps the overall bar has counted

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def message(self, text: str) -> None:
        if not self.quiet:
            (self.progress.console if self.progress else err_console).print(f"[dim]{text}[/]", highlight=False)

    def on_run_start(self, info: dict) -> None:
        if self.quiet:
            return
        err_console.print(f"[dim]device:[/] {info['strategy']}")
        lr = info.get("lr")
        err_console.print(f"[dim]recipe:[/] [bold]{info['recipe']}[/] (lr {lr} from {info['lr_source']})  "
                          f"[dim]folds:[/] {info['folds_to_train']} of {info['folds']}  [dim]rows:[/] {info['n_rows']}")
        err_console.print(f"[dim]run:[/] {info['run_dir']}")
        self.folds_left = len(info["folds_to_train"])
        self.progress = training_progress(err_console)
        self.progress.start()

    def on_fold_start(self, fold: int, info: dict) -> None:
        if self.progress is None:
            return
        what = f" (resuming at epoch {info['initial_epoch'] + 1})" if info["resumed"] else ""
        self.message(f"fold {fold}: {info['n_train']} train / {info['n_val']} val{what}")
        steps, epochs, done = info["steps_per_epoch"], info["epochs"], info["initial_epoch"]
        per_step = info["n_train"] / max(1, steps)  # images a step trains on, for the img/s rate
        if self.overall_task is None and self.folds_left > 1:
            self.overall_task = self.progress.add_task("all folds", total=None, stats="", per_step=per_step)
        self.fold_size = epochs * steps
        self._overall_total((epochs - done) * steps)
        self.fold_task = self.progress.add_task(f"fold {fold}", total=epochs * steps, completed=done * steps,
                                                stats="", per_step=per_step)
        # Keras builds and traces the model on the first step: that wait is named, not shown as a stuck bar.
        self.epoch_task = self.progress.add_task("  compiling the model...", total=steps, stats="",
                                                 per_step=per_step)

    def on_plan(self, fold: int, plan: dict) -> None:
        from kaggle_kit.training.reporting import plan_line

        if self.progress is not None and self.fold_task is not None:
            self.progress.update(self.fold_task, total=plan["epochs"])
        self.message(plan_line(fold, plan))

    def on_batch_end(self, fold: int, epoch: int, step: int, steps: int) -> None:
        if self.progress is None or self.epoch_task is None:
            return
        self.progress.update(self.epoch_task, completed=step, description=f"  epoch {epoch}")
        for task in (self.fold_task, self.overall_task):
            if task is not None:
                self.progress.advance(task, 1)
        self.overall_done += 1

    def on_epoch_end(self, fold: int, epoch: int, logs: dict) -> None:
        if self.progress is None:
            return
        stats = (f"loss {_fmt(logs.get('loss'))} acc {_fmt(logs.get('accuracy'))} val_loss "
                 f"{_fmt(logs.get('val_loss'))} val_acc {_fmt(logs.get('val_accuracy'))} lr "
                 f"{_fmt(logs.get('lr'), '.1e')} {logs.get('images_per_sec', 0):,.0f} img/s")
        self.progress.console.print(f"fold {fold} epoch {epoch}: {stats}", highlight=False, soft_wrap=True)
        self.progress.update(self.fold_task, stats=f"val_acc {_fmt(logs.get('val_accuracy'))}")
        self.progress.reset(self.epoch_task, description=f"  epoch {epoch + 1}")

    def on_fold_end(self, fold: int, result) -> None:
        if self.progress is not None:
            if self.epoch_task is not None:
                self.progress.remove_task(self.epoch_task)
                self.epoch_task = None
            if self.fold_task is not None:
                self.progress.update(self.fold_task, completed=self.fold_size, stats=f"val_acc "
                                     f"{result.val_accuracy:.4f} (best epoch {result.best_epoch})")
                self.fold_task = None
            if result.status is FoldStatus.SKIPPED:
                self.message(f"fold {fold}: already done (val accuracy {result.val_accuracy:.4f}), skipped")
            self.folds_left -= 1
            self._overall_total(0)

    def _overall_total(self, current_fold_left: int) -> None:
        """What the overall bar has left: this fold's remaining steps, and each fold to come as long as this one
        (early stopping and skipped folds shrink it as they happen)."""
        if self.progress is None or self.overall_task is None:
            return
        later = max(0, self.folds_left - (1 if current_fold_left else 0)) * self.fold_size
        self.progress.update(self.overall_task, total=self.overall_done + current_fold_left + later)

    def on_run_end(self, result) -> None:
        self.close()
        if self.as_json:
            m = result.metrics
            return emit_json({"run_dir": str(result.run_dir), "cv_accuracy": m.get("cv_accuracy"),
                              "folds_done": m.get("folds_done"), "folds": m.get("folds"),
                              "complete": bool(m.get("complete")), "seconds": round(result.seconds, 1),
                              "fold_results": [{"fold": r.fold, "status": r.status.value,
                                                "val_accuracy": r.val_accuracy, "best_epoch": r.best_epoch}
                                               for r in result.folds]})
        console.print(fold_table(result))
        m = result.metrics
        if m.get("cv_accuracy") is not None:
            line = f"CV accuracy [bold]{m['cv_accuracy']:.5f}[/] over {len(m['folds_done'])}/{m['folds']} folds"
            if (h := m.get("holdout")) and h.get("ensemble_accuracy") is not None:
                line += f"; hold-out {h['file']}: [bold]{h['ensemble_accuracy']:.5f}[/] ({h['n']} rows)"
            console.print(line)
        console.print(f"run folder: {result.run_dir}  ({result.seconds:.0f}s)")
        if not m.get("complete"):
            console.print(f"[yellow]{m['folds'] - len(m['folds_done'])} fold(s) not trained yet[/]; "
                          f"continue with: kk train --run-dir {result.run_dir}")
        elif not self.quiet:
            plots = Path(result.run_dir) / "plots"
            err_console.print(f"[dim]plots: {plots}/ (curves, confusion, per_class, misclassified)\n"
                              f"next: kk predict {result.run_dir}[/]", soft_wrap=True)


def _rate(x) -> str:
    if x is None:
        return "-"
    return f"{x / 1000:.0f}k" if x >= 10000 else f"{x:.0f}"


def fold_table(result) -> Table:
    m = result.metrics
    holdout = "holdout" in m
    t = Table(title=f"{m.get('recipe')} on {m.get('competition')}", title_justify="left")
    for col in ("fold", "status", "epochs", "best", "val acc", "val loss", *(["hold-out"] if holdout else []),
                "img/s", "time"):
        t.add_column(col, justify="left" if col == "status" else "right", no_wrap=True)
    for r in result.folds:
        t.add_row(str(r.fold), r.status.value, str(r.epochs_run), str(r.best_epoch), f"{r.val_accuracy:.4f}",
                  _fmt(r.val_loss), *([_fmt(r.holdout_accuracy)] if holdout else []), _rate(r.images_per_sec),
                  f"{r.seconds:.0f}s")
    if m.get("cv_accuracy") is not None:
        t.add_section()
        t.add_row("CV", f"{len(m['folds_done'])}/{m['folds']}", "", "", f"{m['cv_accuracy']:.4f}",
                  _fmt(m.get("cv_log_loss")),
                  *([_fmt((m.get("holdout") or {}).get("ensemble_accuracy"))] if holdout else []), "", "")
    return t


def train_cmd(
    competition: CompetitionArg = None,
    recipe: RecipeOpt = None,
    config: ConfigOpt = None,
    folds: Annotated[Optional[int], typer.Option("--folds", help="Number of folds K.", show_default=False)] = None,
    fold: Annotated[Optional[list[int]], typer.Option("--fold", help="Train only this fold (repeatable); the "
                                                      "others can train elsewhere and be merged by copying "
                                                      "fold<i>/ folders.", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs per fold.", show_default=False)] = None,
    budget: Annotated[Optional[float], typer.Option("--budget", help="Minutes of wall clock per fold: the epochs "
                                                    "are planned from the measured speed, replanned as it "
                                                    "changes (the cosine follows without jumps); overrides "
                                                    "--epochs.",
                                                    show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Global batch size (split across "
                                                      "replicas).", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (overrides the recipe's, "
                                                "including lr = \"finder\").", show_default=False)] = None,
    limit: LimitOpt = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of folds, data order and initialisation.",
                                                show_default=False)] = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Run folder (default: a new "
                                                    "runs/<competition>/<timestamp>-<recipe>/); an existing one "
                                                    "resumes.", show_default=False)] = None,
    overrides: SetOpt = None,
    pseudo_label: Annotated[Optional[Path], typer.Option("--pseudo-label", help="A finished run folder with "
                                                         "test_probs.npy (kk predict RUN): its confident test "
                                                         "predictions join every fold's training set.",
                                                         show_default=False)] = None,
    threshold: Annotated[Optional[float], typer.Option("--threshold", help="Pseudo-labels: keep test rows "
                                                       "predicted with at least this probability (default 0.99).",
                                                       show_default=False)] = None,
    extra_data: Annotated[Optional[ExtraData], typer.Option("--extra-data", help="Extra labelled files (e.g. "
                                                            "Dig-MNIST.csv): ignore | train | holdout.",
                                                            show_default=False)] = None,
    quiet: QuietOpt = False,
    deterministic: Annotated[bool, typer.Option("--deterministic", help="TensorFlow op determinism "
                                                "(repeatable to the bit, slower).")] = False,
    mixed_precision: Annotated[bool, typer.Option("--mixed-precision", help="float16 compute on GPU.")] = False,
    show_config: Annotated[bool, typer.Option("--show-config", help="Print the resolved recipe and exit.")] = False,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a recipe's K folds (or --fold I) into a run folder; re-running it resumes where it stopped."""
    from kaggle_kit.config import to_toml
    from kaggle_kit.training import runs
    from kaggle_kit.training.rundir import load_run_recipe
    from kaggle_kit.training.trainer import train_run

    base = load_run_recipe(run_dir) if run_dir and (run_dir / runs.CONFIG_FILE).is_file() else None
    flag_sets = flag_overrides(**{"folds": folds, "epochs": epochs, "budget_minutes": budget,
                                   "pseudo_label": str(pseudo_label) if pseudo_label else None,
                                   "pseudo_threshold": threshold, "batch_size": batch_size, "optimizer.lr": lr,
                                   "limit": limit, "seed": seed, "extra_data": extra_data,
                                   "deterministic": deterministic, "mixed_precision": mixed_precision})
    cfg = resolve_recipe(recipe, config, flag_sets + list(overrides or []), base=base)
    if show_config:
        if cfg.optimizer.lr == "finder" and base is None:  # show the rate training would use
            from kaggle_kit.project import resolve_competition
            from kaggle_kit.training.recipes import resolve_lr

            cfg, source = resolve_lr(cfg, resolve_competition(competition, data_dir).slug)
            typer.echo(f"# optimizer.lr from {source}")
        typer.echo(to_toml(cfg), nl=False)
        return
    if competition is None and base is not None:  # resuming: the run knows its competition
        competition = (runs.read_json(run_dir / runs.RUN_FILE) or {}).get("competition")
    comp = _open_competition(competition, data_dir, quiet=quiet or as_json)
    if run_dir is None:
        run_dir = runs.new_run_dir(comp.spec.slug, cfg.name)
    reporter = RichReporter(quiet=quiet, as_json=as_json)
    try:
        train_run(comp, cfg, run_dir, folds_to_train=fold, reporter=reporter)
    except KeyboardInterrupt:
        reporter.close()
        err_console.print(f"[yellow]interrupted[/]: finished folds and the last finished epoch are saved; "
                          f"continue with: kk train --run-dir {run_dir}")
        raise typer.Exit(130) from None
    finally:
        reporter.close()


# --- kk blend -------------------------------------------------------------------------------------------------

def blend_cmd(
    run_dirs: Annotated[list[Path], typer.Argument(help="Two or more run folders, each predicted (kk predict RUN).")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Blend folder (default: "
                                                "runs/<competition>/<timestamp>-blend/).", show_default=False)] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Average several runs' test probabilities with weights fitted on their out-of-fold predictions."""
    from kaggle_kit.competition import Competition
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs
    from kaggle_kit.training.blend import blend_runs

    first = runs.require_run_dir(run_dirs[0])
    ref = resolve_competition((runs.read_json(first / runs.RUN_FILE) or {}).get("competition"), data_dir)
    announce(ref, quiet=quiet or as_json)
    comp = Competition.open(ref.data_dir, slug=ref.slug)
    out = out or runs.new_run_dir(comp.spec.slug, "blend")
    with err_console.status("fitting blend weights on out-of-fold predictions..."):
        summary = blend_runs(run_dirs, comp, out)
    if as_json:
        return emit_json({**summary, "out": str(out)})
    if quiet:
        return console.print(str(out / "submission.csv"))
    t = Table(title=f"blend of {len(run_dirs)} runs on {summary['rows']} shared training rows", title_justify="left")
    for col in ("run", "weight", "OOF acc", "OOF log loss"):
        t.add_column(col, justify="left" if col == "run" else "right")
    for r in summary["runs"]:
        t.add_row(r["run"], f"{r['weight']:.3f}", f"{r['oof_accuracy']:.4f}", f"{r['oof_log_loss']:.4f}")
    console.print(t)
    console.print(f"blend OOF accuracy [bold]{summary['cv_accuracy']:.5f}[/] (weights cross-fitted; equal weights "
                  f"{summary['equal_weights_accuracy']:.5f})")
    console.print(f"wrote {out / 'submission.csv'} and {out / 'test_probs.npy'}")


# --- kk lr-find -----------------------------------------------------------------------------------------------

def lr_find_cmd(
    competition: CompetitionArg = None,
    recipe: RecipeOpt = None,
    config: ConfigOpt = None,
    limit: LimitOpt = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Output folder (default: "
                                                    "runs/<competition>/lr-find/<timestamp>/).",
                                                    show_default=False)] = None,
    steps: Annotated[int, typer.Option("--steps", help="Number of training steps in the sweep.")] = 200,
    min_lr: Annotated[float, typer.Option("--min-lr", help="Learning rate the sweep starts at.")] = 1e-7,
    max_lr: Annotated[float, typer.Option("--max-lr", help="Learning rate the sweep ends at (it stops early when "
                                          "the loss diverges).")] = 1.0,
    overrides: SetOpt = None,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Sweep the learning rate exponentially on the recipe's model and print the suggested range."""
    from kaggle_kit.training.lr_finder import lr_find_run

    cfg = resolve_recipe(recipe, config, flag_overrides(limit=limit) + list(overrides or []))
    comp = _open_competition(competition, data_dir, quiet=quiet or as_json)
    if not (quiet or as_json):
        err_console.print(f"[dim]sweeping the learning rate {min_lr:g} .. {max_lr:g} over {steps} steps "
                          "(compiling the model first)...[/]")
    with step_bar(err_console, "lr sweep", quiet=quiet or as_json) as on_step:
        found = lr_find_run(comp, cfg, out_dir=run_dir, steps=steps, min_lr=min_lr, max_lr=max_lr, on_step=on_step)
    if as_json:
        r = found.result
        return emit_json({"suggested_lr": found.suggested_lr, "low": r.low, "high": r.high, "diverged": r.diverged,
                          "json": str(found.json_path), "png": str(found.png_path)})
    if quiet:
        return console.print(f"{found.suggested_lr:.2e}")
    console.print(found.summary())
    console.print(f"saved {found.json_path} and {found.png_path}")
    console.print(f"[dim]recipes with optimizer.lr = \"finder\" now train at {found.suggested_lr:.2e}[/]")


# --- kk predict -----------------------------------------------------------------------------------------------

def predict_cmd(
    run_dir: Annotated[Path, typer.Argument(help="The run folder (runs/<competition>/<run-id>).")],
    tta: Annotated[Optional[int], typer.Option("--tta", help="Augmented test-time passes added to the original "
                                               "(default: the recipe's tta).", show_default=False)] = None,
    fold: Annotated[Optional[list[int]], typer.Option("--fold", help="Use only fold I (repeatable: --fold 0 --fold 2; "
                                                      "default: every finished fold).", show_default=False)] = None,
    old_folds: Annotated[Optional[list[str]], typer.Option("--folds", hidden=True, help="Gone: --folds means a "
                                                           "number of folds elsewhere; use --fold I.")] = None,
    weighted: Annotated[bool, typer.Option("--weighted", help="Weight folds by their CV accuracy.")] = False,
    allow_other_data: Annotated[bool, typer.Option("--allow-other-data", help="Predict data other than the data "
                                                   "the run was trained on (another competition, a changed "
                                                   "train.csv).")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Submission file (default: RUN_DIR/submission.csv).",
                                                show_default=False)] = None,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Ensemble a run's folds (+ TTA) over the test set and write a validated submission."""
    from kaggle_kit.competition import Competition
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs
    from kaggle_kit.training.predict import predict_run

    if old_folds:
        picked = " ".join(f"--fold {f}" for f in old_folds)
        raise KKError("kk predict selects folds with --fold I (repeatable); --folds K is the number of folds "
                      "(kk train)", hint=f"kk predict {run_dir} {picked}")
    run_dir = runs.require_run_dir(run_dir)
    info = runs.read_json(run_dir / runs.RUN_FILE) or {}
    ref = resolve_competition(info.get("competition"), data_dir)
    announce(ref, quiet=quiet or as_json)
    comp = Competition.open(ref.data_dir, slug=ref.slug)
    log = (lambda s: None) if quiet or as_json else (lambda s: err_console.print(f"[dim]{s}[/]"))
    with step_bar(err_console, "predicting (fold x pass)", unit="passes/s", quiet=quiet or as_json) as on_step:
        res = predict_run(run_dir, comp, tta=tta, folds=fold, weighted=weighted, out=out, log=log, on_step=on_step,
                          allow_other_data=allow_other_data)
    if as_json:
        return emit_json({"submission": str(res.submission_path), "probabilities": str(res.probs_path),
                          "folds": res.folds, "weights": res.weights, "tta": res.tta, "rows": len(res.predicted),
                          "label_counts": {str(k): int(v) for k, v in res.label_counts.items()}})
    if quiet:
        return console.print(str(res.submission_path), soft_wrap=True)
    w = ", ".join(f"{f}:{x:.3f}" for f, x in zip(res.folds, res.weights))
    console.print(f"ensemble of {len(res.folds)} fold(s) [{w}], TTA {res.tta} augmented pass(es)")
    console.print(f"[green]valid submission[/]: {res.submission_path} ({len(res.predicted)} rows; "
                  f"labels {res.label_counts})", soft_wrap=True)
    console.print(f"probabilities: {res.probs_path}", soft_wrap=True)
    err_console.print(f"[dim]next: kk submit --file {res.submission_path} --wait[/]", soft_wrap=True)


# --- kk recipes -----------------------------------------------------------------------------------------------

def recipes_cmd(
    name: Annotated[Optional[str], typer.Argument(help="Print this recipe's TOML (to copy and edit).",
                                                  show_default=False)] = None,
    components: Annotated[bool, typer.Option("--components", help="List the components a recipe can name "
                                             "(models, losses, optimizers, schedules, augmentation, fold "
                                             "trainers) instead.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the bundled recipes, or print one to start your own (--config FILE)."""
    from kaggle_kit.training.recipes import available_recipes, recipe_summary, recipe_text

    if components:
        _components_table(as_json)
        return
    if name:
        typer.echo(recipe_text(name), nl=False)
        return
    if as_json:
        emit_json([{"name": n, "description": recipe_summary(n)} for n in available_recipes()])
        return
    t = Table(title="recipes (kk recipes NAME prints one)", title_justify="left")
    t.add_column("name", style="bold")
    t.add_column("description")
    for n in available_recipes():
        t.add_row(n, recipe_summary(n))
    console.print(t)


def _components_table(as_json: bool) -> None:
    from kaggle_kit.training import components

    rows = components()
    if as_json:
        emit_json(rows)
        return
    t = Table(title="components (what a recipe can name)", title_justify="left")
    for col in ("kind", "name", "description"):
        t.add_column(col, style="bold" if col == "name" else None, no_wrap=col != "description")
    for r in rows:
        t.add_row(r.kind, r.name, r.description)
    console.print(t)


# --- kk augment-preview -----------------------------------------------------------------------------------------

def augment_preview_cmd(
    competition: CompetitionArg = None,
    recipe: RecipeOpt = None,
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    n: Annotated[int, typer.Option("--n", help="Number of training images shown (one per class first).")] = 8,
    variants: Annotated[int, typer.Option("--variants", help="Augmented variants per image.")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the images picked and of their augmentation.")] = 0,
    out: Annotated[Optional[Path], typer.Option("--out", help="PNG file (default: "
                                                "runs/<competition>/augment-preview-<recipe>.png).",
                                                show_default=False)] = None,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a PNG grid of augmented training samples as the recipe's augmentation produces them."""
    import numpy as np

    from kaggle_kit.training.augment import preview_grid
    from kaggle_kit.training.runs import runs_base

    if n < 1 or variants < 1:
        raise KKError("--n and --variants must be at least 1")
    cfg = resolve_recipe(recipe, config, list(overrides or []))
    comp = _open_competition(competition, data_dir, quiet=quiet or as_json)
    x, y = comp.train_arrays()
    rng = np.random.default_rng(seed)
    firsts = [int(rng.choice(np.flatnonzero(y == c))) for c in np.unique(y)][:n]
    rest = rng.choice(np.setdiff1d(np.arange(len(y)), firsts), size=max(0, min(n - len(firsts), len(y) - len(firsts))),
                      replace=False)
    picked = np.asarray(firsts + [int(i) for i in rest])
    out = out or runs_base() / comp.spec.slug / f"augment-preview-{cfg.name}.png"
    path = preview_grid(x[picked], cfg.augment, out, n_variants=variants, seed=seed)
    if as_json:
        return emit_json({"png": str(path), "recipe": cfg.name, "images": len(picked), "variants": variants})
    console.print(str(path))
