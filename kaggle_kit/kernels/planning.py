"""Planning `kk push-kernel`: a `TrainKernelRequest` or `InferenceKernelRequest` -> the `KernelPlan`s to render.

A training request resolves its recipe (bundled, a file, or a run folder's own when continuing `--run`), the
flag overrides, the learning rate, and the folds left to train, dealt over `parallel` kernels that all write one
run id; an inference request finds its weights dataset. Both read the competition's format here when its data
is here, so a wrong format fails before a kernel queues on Kaggle.

Example (renders nothing, reads the project's kk.toml and data, so a plain code block):

    planning = plan_train_kernels(TrainKernelRequest(owner="alice", folds="5", parallel=2))
    [p.slug for p in planning.plans]    # ['digit-recognizer-kk-train-p0', 'digit-recognizer-kk-train-p1']
    planning.run_dir                    # runs/digit-recognizer/<run-id>
"""

from __future__ import annotations

import math
from pathlib import Path

from kaggle_kit.accelerators import Accelerator
from kaggle_kit.errors import KKError
from kaggle_kit.kernels.workflow import (
    InferenceKernelRequest,
    KernelKind,
    KernelPlanning,
    Progress,
    TrainKernelRequest,
)


def resolve_kind(kind: str | None, competition: str | None) -> tuple[KernelKind, str | None]:
    """(kind, competition) of `kk push-kernel [KIND] [COMPETITION]`: a lone non-kind word is the competition."""
    if kind is None:
        return KernelKind.TRAIN, competition
    try:
        return KernelKind(kind), competition
    except ValueError:
        if competition is not None:
            raise KKError(f"unknown kernel kind {kind!r}: choose train or inference") from None
        return KernelKind.TRAIN, kind  # `kk push-kernel digit-recognizer --gpu`


def _spec_of(data_dir: Path, slug: str, progress: Progress) -> dict | None:
    from kaggle_kit.competition import detect_spec

    if not data_dir.is_dir():
        progress.on_note(f"no local copy of {slug} at {data_dir}: the kernel detects the format on Kaggle "
                         "(kk download first to have it checked before pushing)")
        return None
    return detect_spec(data_dir, slug=slug, load=True).to_dict()


def _split_folds_option(folds: str | None) -> tuple[int | None, list[int] | None]:
    """`--folds 5` is K (as in kk train); `--folds 0,2,4` is the subset of folds to train."""
    from kaggle_kit.kernels.push import parse_folds

    if folds is None:
        return None, None
    if "," not in folds:
        try:
            return int(folds), None
        except ValueError:
            raise KKError(f"--folds {folds!r}: a number of folds K (e.g. 5) or fold numbers like 0,1,2") from None
    return None, parse_folds(folds)


# -- planning --------------------------------------------------------------------------------------------------------


def plan_train_kernels(request: TrainKernelRequest, progress: Progress | None = None) -> KernelPlanning:
    """The training kernel(s) of a request: the resolved recipe, the folds left to train split over
    `request.parallel` kernels, all writing one run id."""
    from kaggle_kit.config import apply_overrides, flag_overrides
    from kaggle_kit.kernels.push import split_folds
    from kaggle_kit.kernels.render import train_plan
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs
    from kaggle_kit.training.recipes import resolve_lr, resolve_recipe

    progress = progress or Progress()
    r = request
    k, subset = _split_folds_option(r.folds)
    sets = flag_overrides(**{"folds": k, "epochs": r.epochs, "budget_minutes": r.budget_minutes,
                             "batch_size": r.batch_size, "optimizer.lr": r.lr,
                             "limit": r.limit, "seed": r.seed, "mixed_precision": r.mixed_precision})
    sets += list(r.overrides)
    competition = r.competition
    if r.run is not None:
        from kaggle_kit.training.rundir import load_run_recipe

        runs.require_run_dir(r.run)
        if r.recipe or r.config:
            raise KKError("--run continues a run with its own recipe; leave out --recipe/--config")
        info = runs.read_json(r.run / runs.RUN_FILE) or {}
        competition = competition or info.get("competition")
        cfg = apply_overrides(load_run_recipe(r.run), sets)
        run_id, done = r.run.name, set(runs.done_folds(r.run))
    else:
        cfg = resolve_recipe(r.recipe, r.config, sets)
        run_id, done = None, set()
    if r.accelerator.kind == "gpu" and r.run is None and "mixed_precision" not in cfg.model_fields_set:
        # A T4's tensor cores roughly double throughput in float16; a recipe that sets the field keeps its choice.
        cfg = cfg.model_copy(update={"mixed_precision": True})
        progress.on_note("mixed precision (mixed_float16) on for the GPU session; set mixed_precision = false in "
                         "the recipe (or --set mixed_precision=false) to opt out")
    ref = resolve_competition(competition, r.data_dir)
    cfg, lr_source = resolve_lr(cfg, ref.slug)
    if lr_source != "recipe":
        progress.on_note(f"learning rate {cfg.optimizer.lr:.2e} from {lr_source}")
    run_id = run_id or runs.new_run_id(cfg.name)
    chosen = sorted(set(subset or []) | set(r.fold)) or [f for f in range(cfg.folds) if f not in done]
    bad = [f for f in chosen if f >= cfg.folds]
    if bad:
        raise KKError(f"fold(s) {bad} do not exist: the recipe has {cfg.folds} folds (0..{cfg.folds - 1})")
    if not chosen:
        raise KKError(f"{r.run}: every fold is already trained; nothing for a kernel to do")
    spec = _spec_of(ref.data_dir, ref.slug, progress)
    parts = split_folds(chosen, r.parallel)
    check_session_time(cfg.budget_minutes, parts, r.accelerator)
    planning = KernelPlanning(KernelKind.TRAIN, r.accelerator, r.internet,
                              run_dir=runs.runs_base() / ref.slug / run_id)
    for i, part in enumerate(parts):
        part_slug = None if len(parts) == 1 else f"p{i}"
        slug = f"{r.slug}-{part_slug}" if r.slug and part_slug else r.slug
        every = part == list(range(cfg.folds))
        planning.plans.append(train_plan(r.owner, ref.slug, cfg, run_id, folds=None if every else part,
                                         accelerator=r.accelerator, internet=r.internet, public=r.public, spec=spec,
                                         slug=slug, part=part_slug, command=r.command,
                                         allow_cpu_fallback=r.allow_cpu_fallback))
    return planning


SESSION_OVERHEAD_MIN = 15.0  # a session's start, data loading, the probe and the final predictions, besides the folds


def check_session_time(budget_minutes: float | None, parts: list[list[int]], accelerator: Accelerator) -> None:
    """Refuse a budgeted training kernel whose folds cannot end inside one Kaggle session: Kaggle would stop it at
    its limit, after hours, with the last fold lost. `parts` are the fold subsets, one kernel each.

    Example:
        >>> check_session_time(60, [[0, 1, 2, 3, 4]], Accelerator("gpu", "NvidiaTeslaT4"))  # 5 h + overhead: fits
        >>> check_session_time(180, [[0, 1, 2, 3, 4]], Accelerator("tpu", "TpuV5E8"))
        Traceback (most recent call last):
        ...
        kaggle_kit.errors.KKError: --budget 180 min x 5 folds in one kernel (15.2 h with the session's own ~15 min) exceeds a TPU session's 9 h limit: split the folds over kernels with --parallel 3, or give each fold at most 105 min
    """
    if not budget_minutes:
        return
    limit_min = 60.0 * accelerator.session_hours
    most = max(len(p) for p in parts)
    need = most * budget_minutes + SESSION_OVERHEAD_MIN
    if need <= limit_min:
        return
    per_kernel = max(1, int((limit_min - SESSION_OVERHEAD_MIN) // budget_minutes))
    n_folds = sum(len(p) for p in parts)
    fits = math.floor((limit_min - SESSION_OVERHEAD_MIN) / most)
    hint = (f"split the folds over kernels with --parallel {math.ceil(n_folds / per_kernel)}, or "
            if budget_minutes + SESSION_OVERHEAD_MIN <= limit_min else "")
    raise KKError(f"--budget {budget_minutes:g} min x {most} folds in one kernel ({need / 60:.1f} h with the "
                  f"session's own ~{SESSION_OVERHEAD_MIN:g} min) exceeds a {accelerator.kind.upper()} session's "
                  f"{accelerator.session_hours:g} h limit: {hint}give each fold at most {fits} min")


def pick_weights(weights: str | None, run: Path | None, competition: str, progress: Progress | None = None) -> str:
    """The weights dataset OWNER/SLUG: as given, else the newest staged by kk upload-weights (for `run`)."""
    from kaggle_kit.kernels.weights import staged_weights

    if weights:
        if weights.count("/") != 1:
            raise KKError(f"--weights {weights!r}: expected OWNER/SLUG of a dataset made by kk upload-weights")
        return weights
    found = staged_weights(competition=competition)
    if run is not None:
        found = [(f, m) for f, m in found if m.get("run_id") == Path(run).name]
        if not found:
            raise KKError(f"no weights dataset staged for run {Path(run).name}",
                          hint=f"Publish them first: kk upload-weights {run}")
    if not found:
        raise KKError(f"no weights dataset for {competition}: pass --weights OWNER/SLUG",
                      hint="Or publish a run's weights first: kk upload-weights runs/<competition>/<run-id>")
    folder, manifest = found[0]
    ref = f"{folder.parent.name}/{folder.name}"
    (progress or Progress()).on_note(f"weights: {ref} (run {manifest.get('run_id')}, staged {manifest.get('created')})")
    return ref


def plan_inference_kernel(request: InferenceKernelRequest, progress: Progress | None = None) -> KernelPlanning:
    """The offline inference kernel of a request, reading the weights dataset it names (or finds)."""
    from kaggle_kit.kernels.render import inference_plan
    from kaggle_kit.project import resolve_competition

    progress = progress or Progress()
    r = request
    ref = resolve_competition(r.competition, r.data_dir)
    weights = pick_weights(r.weights, r.run, ref.slug, progress)
    spec = _spec_of(ref.data_dir, ref.slug, progress)
    plan = inference_plan(r.owner, ref.slug, weights, tta=r.tta, weighted=r.weighted, accelerator=r.accelerator,
                          internet=r.internet, public=r.public, spec=spec, slug=r.slug, command=r.command,
                          allow_cpu_fallback=r.allow_cpu_fallback)
    if r.internet:
        progress.on_advice("code competitions require internet off for submission kernels")
    return KernelPlanning(KernelKind.INFERENCE, r.accelerator, r.internet, [plan])
