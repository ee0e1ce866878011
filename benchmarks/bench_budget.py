"""`kk train --budget` on a competition the defaults were not tuned on, scored against its hidden solution.csv.

    python -m benchmarks.bench_budget --budget 5                              # mirror-pairs, default recipe
    python -m benchmarks.bench_budget --budget 5 --probe off                  # the same without the probe
    python -m benchmarks.bench_budget --competition digit-recognizer --budget 10
    python -m benchmarks.bench_budget --competition Kannada-MNIST --budget 10
    python -m benchmarks.bench_budget --competition digit-recognizer --recipe seed003 --budget 10 --probe off
    python -m benchmarks.bench_budget --table                                 # rebuild the table only

Each job trains ONE model, fold 0 of the recipe's folds (the default recipe unless `--recipe`: the seeds run on
equal terms, each with its own network, augmentation and schedule), with `train_run` (the code `kk train --budget`
runs) and `budget_minutes` = the budget; with the default `probe = "auto"` the invariance probe runs first (on
its own time, reported apart from the fold's). The model then predicts the test images (`predict_run`, no TTA)
and the submission is scored against `solution.csv`, which nothing else reads. Jobs are saved as
`benchmarks/results/budget/<job>.json` and listed in one table; `--force` reruns one.

`mirror-pairs` is the offline non-digit stand-in built by `benchmarks.standin` (flips label-preserving).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time

from benchmarks.common import (
    DATA_DIR,
    RESULTS_DIR,
    Row,
    compare_submissions,
    digit_recognizer,
    machine_load,
    publish,
    score_submission,
)
from kaggle_kit.io import atomic_write_json

COMMAND = "python -m benchmarks.bench_budget"
TITLE = "Time budgets on a competition the defaults were not tuned on (kk train --budget, scored on solution.csv)"
JOBS_DIR = RESULTS_DIR / "budget"
RUNS_DIR = DATA_DIR / "runs" / "budget"


def job_name(competition: str, budget: float, probe: str, probe_minutes: float | None = None, folds: int = 1,
             tta: int = 0, pseudo: str | None = None, recipe: str = "default", sets: tuple[str, ...] = ()) -> str:
    # "invariance": the probe since 2026-12-03; jobs named "probe-auto"/"probe-on" ran the earlier training-race probe
    tag = "probe-off" if probe == "off" else f"invariance-{probe}"
    named = competition if recipe == "default" else f"{competition}-{recipe}"
    single = f"{named}-{budget:g}min-{tag}" + (f"-{probe_minutes:g}min" if probe_minutes else "")
    single += f"-pseudo-from-{pseudo}" if pseudo else ""
    single += "".join(f"-set-{s.replace('/', '_').replace(' ', '')}" for s in sets)
    return single + (f"-{folds}folds-tta{tta}" if folds > 1 or tta else "")


def open_competition(name: str):
    if name == "digit-recognizer":
        return digit_recognizer()
    if name == "Kannada-MNIST":
        from kaggle_kit.competition import Competition

        if digit_recognizer() is None:  # builds both MNIST competitions on first use
            return None
        root = DATA_DIR / name
        return Competition.open(root / "data", slug=name), root / "solution.csv"
    from benchmarks.standin import standin

    return standin(name)


def run_job(competition: str, budget: float, probe: str, force: bool = False,
            probe_minutes: float | None = None, folds: int = 1, tta: int = 0, pseudo: str | None = None,
            recipe_name: str = "default", sets: tuple[str, ...] = ()) -> dict | None:
    """One job: folds 0..`folds`-1 trained with the budget each (an ensemble job reuses the single-model job's
    run folder, so its fold 0 is not trained twice), predicted with `tta` passes and scored."""
    from kaggle_kit.training.predict import predict_run
    from kaggle_kit.training.probe import describe
    from kaggle_kit.training.recipes import load_recipe
    from kaggle_kit.training.reporting import PlainReporter
    from kaggle_kit.training.trainer import train_run

    name = job_name(competition, budget, probe, probe_minutes, folds, tta, pseudo, recipe_name, sets)
    path = JOBS_DIR / f"{name}.json"
    if path.is_file() and not force:
        print(f"{name}: done already ({path}); --force reruns it")
        return json.loads(path.read_text())
    opened = open_competition(competition)
    if opened is None:
        return None
    comp, solution = opened
    run_dir = RUNS_DIR / job_name(competition, budget, probe, probe_minutes, pseudo=pseudo, recipe=recipe_name,
                                  sets=sets)
    if pseudo and not (RUNS_DIR / pseudo / "test_probs.npy").is_file():
        raise SystemExit(f"--pseudo-label {pseudo}: {RUNS_DIR / pseudo} has no test predictions (run that job first)")
    if force and folds == 1:
        shutil.rmtree(run_dir, ignore_errors=True)
    recipe = load_recipe(recipe_name, [f"budget_minutes={budget}", f'probe="{probe}"',
                                     *([f"probe_minutes={probe_minutes}"] if probe_minutes else []),
                                     *([f'pseudo_label="{RUNS_DIR / pseudo}"'] if pseudo else []), *sets])
    load_before = machine_load()
    t0 = time.perf_counter()
    result = train_run(comp, recipe, run_dir, folds_to_train=list(range(folds)), reporter=PlainReporter())
    wall = time.perf_counter() - t0
    pred = predict_run(run_dir, comp, tta=tta, folds=list(range(folds)),
                       out=run_dir / (f"submission-{folds}folds-tta{tta}.csv" if folds > 1 or tta else "submission.csv"))
    score = score_submission(pred.submission_path, solution)
    fold = json.loads((run_dir / "fold0" / "metrics.json").read_text())
    probe_json = json.loads((run_dir / "probe.json").read_text()) if (run_dir / "probe.json").is_file() else None
    fold_metrics = [json.loads((run_dir / f"fold{f}" / "metrics.json").read_text()) for f in range(folds)]
    job = {"job": name, "competition": competition, "budget_min": budget, "probe": probe, "folds": folds, "tta": tta,
           "fold_actual_s": [(m.get("budget") or {}).get("actual_s") for m in fold_metrics],
           "budget": fold.get("budget"), "epochs_run": fold.get("epochs_run"), "val_accuracy": fold.get("accuracy"),
           "test_accuracy": score["all"], "public": score.get("public"), "private": score.get("private"),
           "probe_verdicts": probe_json and probe_json["verdicts"],
           "probe_retention": probe_json and probe_json["retention"],
           "probe_clean": probe_json and round(probe_json["clean_accuracy"], 4),
           "probe_augment": probe_json and describe(probe_json["augment"]),
           "probe_seconds": probe_json and probe_json["seconds"], "train_run_seconds": round(wall, 1),
           "cv_accuracy": result.cv_accuracy, "machine_load_before": load_before,
           "date": time.strftime("%Y-%m-%d", time.gmtime()),
           "probe_informative": probe_json and probe_json.get("informative"),
           "command": f"{COMMAND} --competition {competition} --budget {budget:g} --probe {probe}"
                      + (f" --probe-minutes {probe_minutes:g}" if probe_minutes else "")
                      + (f" --folds {folds} --tta {tta}" if folds > 1 or tta else "")
                      + (f" --pseudo-label {pseudo}" if pseudo else "")
                      + (f" --recipe {recipe_name}" if recipe_name != "default" else "")
                      + "".join(f" --set '{s}'" for s in sets),
           "recipe": recipe_name, "model": recipe.model.name, "sets": list(sets),
           "pseudo_label": pseudo and {"from": pseudo, "threshold": recipe.pseudo_threshold,
                                       "prediction": json.loads((RUNS_DIR / pseudo / "prediction.json").read_text())}}
    JOBS_DIR.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, job)
    if folds == 1:
        versus_base(competition, budget, probe, probe_minutes, pseudo, recipe_name, solution)
    return job


def versus_base(competition: str, budget: float, probe: str, probe_minutes: float | None, pseudo: str | None,
                recipe_name: str, solution) -> None:
    """Each single-fold `--set` job against the same job without its settings, row by row on the same test rows
    (exact McNemar test), saved in the set job's JSON: run after either of the two, whichever finishes last."""
    base = job_name(competition, budget, probe, probe_minutes, pseudo=pseudo, recipe=recipe_name)
    base_sub = RUNS_DIR / base / "submission.csv"
    if not base_sub.is_file():
        return
    base_json = JOBS_DIR / f"{base}.json"
    base_epochs = json.loads(base_json.read_text()).get("epochs_run") if base_json.is_file() else None
    for path in sorted(JOBS_DIR.glob(f"{base}-set-*.json")):
        j = json.loads(path.read_text())
        sub = RUNS_DIR / j["job"] / "submission.csv"
        if j.get("folds", 1) != 1 or not sub.is_file():
            continue
        c = compare_submissions(sub, base_sub, solution)
        j["versus_base"] = {"job": base, "base": c["b"], "this": c["a"], "only_this_right": c["only_a"],
                            "only_base_right": c["only_b"], "mcnemar_p": c["mcnemar_p"], "base_epochs_run": base_epochs}
        atomic_write_json(path, j)


def paired(competition: str, budget: float) -> dict | None:
    """The default (invariance probe auto) against the digit-tuned setting (probe off: rotation/shear kept, no
    flips) at one budget, row by row on the same test rows: the accuracy gap and an exact McNemar test on the rows
    only one of them gets right. Saved beside the jobs, so the table rebuilds without the run folders."""
    opened = open_competition(competition)
    if opened is None:
        return None
    _, solution = opened
    subs = [RUNS_DIR / job_name(competition, budget, probe) / "submission.csv" for probe in ("auto", "off")]
    if not all(p.is_file() for p in subs):
        return None
    c = compare_submissions(subs[0], subs[1], solution)
    out = {"competition": competition, "budget_min": budget, "rows": c["rows"], "default": c["a"],
           "digit_tuned": c["b"], "only_default_right": c["only_a"], "only_digit_tuned_right": c["only_b"],
           "mcnemar_p": c["mcnemar_p"], "jobs": [job_name(competition, budget, p) for p in ("auto", "off")],
           "date": time.strftime("%Y-%m-%d", time.gmtime())}
    atomic_write_json(JOBS_DIR / f"paired-{competition}-{budget:g}min.json", out)
    return out


def rows() -> list[Row]:
    out = []
    for p in sorted(JOBS_DIR.glob("paired-*.json")):
        c = json.loads(p.read_text())
        gap = c["default"] - c["digit_tuned"]
        out.append(Row(
            f"{c['competition']}, budget {c['budget_min']:g} min: the default (invariance probe auto) vs the "
            f"digit-tuned setting (probe off), same test rows",
            f"{c['default']:.5f} vs {c['digit_tuned']:.5f}: {gap * 100:+.2f} points; rows only the default gets right "
            f"{c['only_default_right']}, only the digit-tuned {c['only_digit_tuned_right']} (of {c['rows']}); exact "
            f"McNemar p = {c['mcnemar_p']:.2g}; {c['date']}; jobs {', '.join(c['jobs'])}",
            target="default better, McNemar p < 0.01", met=gap > 0 and c["mcnemar_p"] < 0.01,
            extra={"command": f"{COMMAND} --competition {c['competition']} --budget {c['budget_min']:g} --probe auto|off"}))
    for p in sorted(JOBS_DIR.glob("*.json")):
        if p.name.startswith("paired-"):
            continue
        j = json.loads(p.read_text())
        b = j.get("budget") or {}
        inconclusive = " (inconclusive: kept the recipe's)" if j.get("probe_informative") is False else ""
        if j.get("probe_verdicts") is not None:
            probe = (f"; invariance probe ({j['probe_seconds'] / 60:.1f} min, instrument {j['probe_clean']}, "
                     f"retention {j['probe_retention']}){inconclusive}: trained with {j['probe_augment']}")
        elif j.get("probe_choice"):
            probe = (f"; earlier training-race probe chose {j['probe_choice']!r}{inconclusive} in "
                     f"{j['probe_seconds'] / 60:.1f} min (val acc after <= {max(j['probe_epochs'].values())} "
                     f"epoch(s), the last possibly cut: {j['probe_scores']})")
        else:
            probe = "; no probe"
        value = (f"test {j['test_accuracy']:.5f} (val {j['val_accuracy']:.4f}); fold planned {b.get('planned_epochs')} "
                 f"epochs, final plan {b.get('final_planned_epochs')}, ran {j['epochs_run']} in "
                 f"{b.get('actual_s', 0) / 60:.2f} of {j['budget_min']:g} min"
                 + (f" (the last epoch cut after {b['cut_after_steps']} of {b['steps_per_epoch']} steps)"
                    if b.get("cut_after_steps") else "")
                 + f"{probe}; {j['date']}; `{j['command']}`")
        actuals = [a for a in (j.get("fold_actual_s") or [b.get("actual_s")]) if a is not None]
        kept = bool(actuals) and all(a <= 1.1 * 60 * j["budget_min"] for a in actuals)
        folds = j.get("folds", 1)
        if folds > 1:
            value = (f"test {j['test_accuracy']:.5f} (public {j['public']:.5f}, private {j['private']:.5f}); CV "
                     f"{j['cv_accuracy']:.4f}; folds took {', '.join(f'{a / 60:.2f}' for a in actuals)} of "
                     f"{j['budget_min']:g} min each; {j['date']}; `{j['command']}`")
        pm = f" ({j['command'].split('--probe-minutes ')[1]} min)" if "--probe-minutes" in j["command"] else ""
        what = f"{folds} folds + TTA {j.get('tta', 0)}" if folds > 1 else "single model (fold 0)"
        if j.get("pseudo_label"):
            pl = j["pseudo_label"]
            what += (f", trained also on test rows predicted with p >= {pl['threshold']:g} by job {pl['from']} "
                     f"({len(pl['prediction']['folds'])} folds + TTA {pl['prediction']['tta']})")
        if j.get("sets"):
            what += f", with {', '.join(j['sets'])}"
            vb = j.get("versus_base")
            if vb:
                value += (f"; vs the same job without it (`{vb['job']}`, {vb['base_epochs_run']} epochs, test "
                          f"{vb['base']:.5f}): rows only this gets right {vb['only_this_right']}, only that "
                          f"{vb['only_base_right']}, exact McNemar p = {vb['mcnemar_p']:.2g}")
        # The targets on digit-recognizer (issue 12): 0.9950 at 10 min, 0.9960 at 30 min, 0.9970 ensembled.
        floor = (0.9970 if folds > 1 else {10.0: 0.9950, 30.0: 0.9960}.get(float(j["budget_min"]))) \
            if j["competition"] == "digit-recognizer" and j.get("recipe", "default") == "default" \
            and not j.get("sets") else None
        target = "fold within 1.1x budget" + (f"; test >= {floor}" if floor else "")
        met = kept and (floor is None or j["test_accuracy"] >= floor)
        kind = "invariance probe" if j.get("probe_verdicts") is not None else "probe"
        out.append(Row(f"{j['competition']}, {j.get('recipe', 'default')} recipe, budget {j['budget_min']:g} min/fold, {kind} {j['probe']}{pm}, "
                       f"{what}", value, target=target, met=met,
                       extra={"job": j["job"], "command": j["command"]}))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--competition", default="mirror-pairs", choices=["mirror-pairs", "mirror-halves", "digit-recognizer", "Kannada-MNIST"])
    ap.add_argument("--budget", type=float, default=5.0, help="minutes per fold")
    ap.add_argument("--probe", default="auto", choices=["auto", "on", "off"])
    ap.add_argument("--probe-minutes", type=float, default=None, help="the probe's time (default: the recipe's)")
    ap.add_argument("--folds", type=int, default=1, help="train folds 0..N-1 (each within the budget) and ensemble")
    ap.add_argument("--tta", type=int, default=0, help="augmented test-time passes when predicting")
    ap.add_argument("--recipe", default="default", help="the recipe (default: the default recipe; seedNNN: a seed's)")
    ap.add_argument("--pseudo-label", default=None, metavar="JOB",
                    help="train on another job's confident test predictions too (its run folder's name)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a recipe override, as kk train --set (repeatable; part of the job's name)")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--table", action="store_true", help="only rebuild the table from saved jobs")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    if not args.table:
        run_job(args.competition, args.budget, args.probe, force=args.force, probe_minutes=args.probe_minutes,
                folds=args.folds, tta=args.tta, pseudo=args.pseudo_label, recipe_name=args.recipe,
                sets=tuple(args.sets))
        if args.folds == 1 and not args.tta and not args.probe_minutes and not args.pseudo_label \
                and args.recipe == "default" and not args.sets:
            paired(args.competition, args.budget)  # once both the default and the digit-tuned job exist
    notes = [
        "One model per job (fold 0 of 5), the default recipe with `budget_minutes`; test accuracy from the job's "
        "submission scored on the competition's solution.csv, read only to score.",
        "mirror-pairs: `python -m benchmarks.standin` (MNIST pairs, one upright and one mirrored sample of a class; "
        "a left-right flip is label-preserving). A stand-in for a non-digit image kind, not a real one.",
        "mirror-halves: `python -m benchmarks.standin --kind mirror-halves` (one MNIST sample per image, upright in "
        "the left half or mirrored in the right: a flip is label-preserving, and without flips each form learns "
        "from half the rows). 20,000 training rows, 10,000 test rows.",
        "digit-recognizer at 30 minutes was run twice. 2026-12-03 10:35 UTC, with the planner of that morning (a "
        "plan grew only in its first half, and a replan moved the whole cosine): test 0.99557, 56 epochs in 22.8 of "
        "30 min, after a slow spell cut the plan at epoch 31. 2026-12-03 14:26 UTC, with continuous replans that may "
        "grow until 9/10 done (the row above): test 0.99539, 52 epochs in 27.0 min. From epoch 26 on its epochs "
        "took ~38-44 s instead of ~22 s in spells, with no other process in this machine (load 0.4 at the start); "
        "the plan went 58 -> 49 -> 63 -> 50 -> 56 -> 52 with them. The two scores differ by 5 of 28,000 rows.",
        "A wider default net at 10 minutes (2026-12-03, `--set model.params.width=2`: kk_cnn with 32/64 filters, "
        "~2.5x the cost per image): 8 epochs instead of 27, test 0.99400 against 0.99507 for the 16/32 net on "
        "digit-recognizer. At this budget on 2 cores the epochs are worth more than the width.",
        "Regularisers and batch size against the default at 10 minutes (2026-12-03 evening, one job at a time; "
        "each `--set` row says how it compares with the plain job on the same test rows): label smoothing 0.1 "
        "and weight averaging (`optimizer.ema=0.999`) change nothing measurable; batch 64 instead of 128 is "
        "ahead on digit-recognizer (0.99564 vs 0.99518, p = 0.09) and even on Kannada-MNIST (0.99700 both, 2 rows "
        "each way), so the default keeps batch 128. The plain job was rerun that evening (--force) so the pairs share "
        "a machine state: it scored 0.99518 in 31 epochs, against 0.99507 in 27 epochs earlier that day. "
        "Epoch counts differ between jobs with the machine's speed (spells of 2x slower epochs).",
        "Seed recipes run through `--budget` like the default (their own model, augmentation, optimizer and "
        "schedule; epoch-indexed schedules are not stretched), fold 0 of their own K folds. Since 2026-12-03 a "
        "fold whose first epoch cannot fit its budget trains the part that fits and stops (seed000 and seed001 "
        "need ~13-15 minutes per epoch here); the 2026-12-02 rows in 'Accuracy per CPU-minute' ran whole epochs "
        "and overran.",
        "Pseudo-labelling under a budget (2026-12-03): fold 0 at 10 minutes, trained also on the 26,482 test rows "
        "the 5-fold + TTA job predicts with p >= 0.99, scores 0.99407 against 0.99507 without them (25 rows only it "
        "gets right, 53 only the plain fold; McNemar p = 0.002). The rows nearly double (60,082 instead of 33,600), "
        "so 10 minutes buy 11 epochs instead of 27: on 2 cores the time is worth more as epochs.",
        "Paired rows compare the default with the digit-tuned setting on the same test rows (exact McNemar test "
        "on the rows only one gets right). The 2026-12-03 mirror-halves pair at 30 minutes ran its two jobs at "
        "the same time on the 2 cores (one core each, the same contention for both), so each trained about half "
        "what a 30-minute fold alone would.",
        "`actual` is the fold's wall time from its start (model building and compiling included) to its final "
        "predictions; the probe runs before the fold, on its own time.",
        "The 2026-12-02 jobs (18:40-19:15 UTC) ran on 2 cores shared with other engineers' jobs and tests (load averages "
        "4.6-8.2, in each job's JSON): epoch times doubled within runs, which is what the replans show.",
        "Jobs marked 'probe auto/on' (2026-12-02) ran the earlier probe, which trained one model per augmentation "
        "candidate for a few seconds each: it measured learning speed and picked 'none' everywhere, so it was "
        "replaced on 2026-12-03 by the invariance probe (one instrument model scored on flipped and rotated held-out "
        "rows; `python -m benchmarks.bench_probe`). Jobs marked 'invariance probe' ran the new one.",
    ]
    publish("budget", TITLE, COMMAND, argv, rows(), notes, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
