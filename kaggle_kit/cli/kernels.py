"""`kk push-kernel`, `kk kernel-status`, `kk kernel-output`, `kk run-kernel`, `kk upload-weights`: Kaggle kernels.

A training kernel trains a recipe's folds on Kaggle's GPU/TPU and its run folder comes back into `runs/`; a
run's weights go up as a dataset; an offline inference kernel turns them into a submission. `kk run-kernel`
runs any rendered kernel here first, offline, the way the emulator (and Kaggle) would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kaggle_kit.cli.common import CompetitionArg, DataDirOpt, JsonOpt, console, err_console
from kaggle_kit.config import flag_overrides
from kaggle_kit.errors import KKError
from kaggle_kit.training.recipes import resolve_recipe

KINDS = ("train", "inference")

RecipeOpt = Annotated[Optional[str], typer.Option("--recipe", "-r", help="Bundled recipe name (default: kk.toml's "
                                                  "recipe, else 'default').", show_default=False)]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="A recipe TOML file (instead of --recipe).",
                                                   show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a recipe setting, e.g. "
                                                     "--set optimizer.name=nadam (repeatable).", show_default=False)]
PollOpt = Annotated[Optional[float], typer.Option("--poll-interval", help="Seconds between status checks "
                                                  "(default 30; 1 against an emulator).", show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("push-kernel")(push_kernel)
    app.command("kernel-status")(kernel_status)
    app.command("kernel-output")(kernel_output)
    app.command("run-kernel")(run_kernel)
    app.command("upload-weights")(upload_weights)


# --- helpers --------------------------------------------------------------------------------------------------


def _client():
    from kaggle_kit.kaggle.client import KaggleClient

    return KaggleClient()


def _secret(client=None) -> str | None:
    """The Kaggle key (to make sure it never leaves in a kernel or dataset); None when there are no credentials."""
    if client is not None:
        return client.credentials.secret or None
    from kaggle_kit.kaggle.credentials import find_credentials

    try:
        return find_credentials().secret or None
    except KKError:
        return None


def _poll(client, poll_interval: float | None) -> float:
    return poll_interval if poll_interval is not None else (1.0 if client.url else 30.0)


def _build_root() -> Path:
    from kaggle_kit.project import project_root

    return project_root() / "kernels" / "build"


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


def _spec_of(data_dir: Path, slug: str) -> dict | None:
    from kaggle_kit.competition import detect_spec

    if not data_dir.is_dir():
        err_console.print(f"[dim]no local copy of {slug} at {data_dir}: the kernel detects the format on Kaggle "
                          "(kk download first to have it checked before pushing)[/]", soft_wrap=True)
        return None
    return detect_spec(data_dir, slug=slug, load=True).to_dict()


def _print_tail(lines: list[str], title: str, style: str = "dim") -> None:
    err_console.print(f"[bold]{title}[/]")
    for line in lines:
        err_console.print(f"  [{style}]{line}[/]", markup=True, highlight=False, soft_wrap=True, emoji=False)


def _status_text(states: dict[str, str], t0: float) -> str:
    parts = ", ".join(f"{ref}: {status}" for ref, status in states.items())
    return f"{parts}  ({time.monotonic() - t0:.0f}s)"


# --- kk push-kernel -------------------------------------------------------------------------------------------


def push_kernel(
    kind: Annotated[Optional[str], typer.Argument(help="train (the default) or inference.", show_default=False)] = None,
    competition: CompetitionArg = None,
    recipe: RecipeOpt = None,
    config: ConfigOpt = None,
    run: Annotated[Optional[Path], typer.Option("--run", help="train: continue this run folder's remaining folds on "
                                                "Kaggle (its recipe, its run id); inference: use the weights "
                                                "`kk upload-weights` published for it.", show_default=False)] = None,
    weights: Annotated[Optional[str], typer.Option("--weights", help="inference: the weights dataset OWNER/SLUG "
                                                   "(default: the newest one kk upload-weights staged for this "
                                                   "competition).", show_default=False)] = None,
    gpu: Annotated[bool, typer.Option("--gpu", help="GPU session (machine shape NvidiaTeslaT4).")] = False,
    tpu: Annotated[bool, typer.Option("--tpu", help="TPU session (machine shape TpuV5E8).")] = False,
    accelerator: Annotated[Optional[str], typer.Option("--accelerator", help="A Kaggle machine shape, e.g. "
                                                       "NvidiaL4 or TpuV5E8.", show_default=False)] = None,
    cpu: Annotated[bool, typer.Option("--cpu", help="CPU session (the default).")] = False,
    folds: Annotated[Optional[str], typer.Option("--folds", help="A number K of folds (as in kk train), or the "
                                                 "folds to train: 0,1,2.", show_default=False)] = None,
    fold: Annotated[Optional[list[int]], typer.Option("--fold", help="Train only this fold (repeatable).",
                                                      show_default=False)] = None,
    parallel: Annotated[int, typer.Option("--parallel", help="Fan the folds out over N kernels at once (one fold "
                                          "subset each) and gather them into one run folder.")] = 1,
    internet: Annotated[bool, typer.Option("--internet/--no-internet", help="Internet in the session (default "
                                           "off: kk kernels need none).")] = False,
    public: Annotated[bool, typer.Option("--public", help="Make the kernel public (default private).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the session, print its log tail, and bring the "
                                       "outputs home.")] = False,
    render_only: Annotated[bool, typer.Option("--render-only", help="Render into kernels/build/<slug>/ and stop.")]
    = False,
    epochs: Annotated[Optional[int], typer.Option("--epochs", show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Train on a stratified sample of N rows.",
                                                 show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", show_default=False)] = None,
    mixed_precision: Annotated[bool, typer.Option("--mixed-precision", help="float16 compute on GPU.")] = False,
    overrides: SetOpt = None,
    tta: Annotated[Optional[int], typer.Option("--tta", help="inference: augmented test-time passes (default: the "
                                               "recipe's).", show_default=False)] = None,
    weighted: Annotated[bool, typer.Option("--weighted", help="inference: weight folds by CV accuracy.")] = False,
    slug: Annotated[Optional[str], typer.Option("--slug", help="Kernel slug (default <competition>-kk-<kind>).",
                                                show_default=False)] = None,
    owner: Annotated[Optional[str], typer.Option("--owner", help="Kaggle user owning the kernel (default: kk.toml's "
                                                 "owner, else your username).", show_default=False)] = None,
    session_timeout: Annotated[Optional[int], typer.Option("--session-timeout", help="Kaggle session limit in "
                                                           "seconds.", show_default=False)] = None,
    poll_interval: PollOpt = None,
    wait_timeout: Annotated[Optional[float], typer.Option("--wait-timeout", help="Stop waiting after this many "
                                                          "seconds.", show_default=False)] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render a training or offline inference kernel, push it to Kaggle, and (--wait) bring its outputs home.

    Bare `kk push-kernel --gpu` pushes the training kernel for kk.toml's competition with its default recipe.
    """
    from kaggle_kit.kernels.metadata import Accelerator
    from kaggle_kit.kernels.push import owner_name
    from kaggle_kit.kernels.render import command_line, inference_plan, render_kernel
    from kaggle_kit.project import resolve_competition

    if kind is not None and kind not in KINDS:
        if competition is not None:
            raise KKError(f"unknown kernel kind {kind!r}: choose train or inference")
        kind, competition = "train", kind  # `kk push-kernel digit-recognizer --gpu`
    kind = kind or "train"
    acc = Accelerator.from_flags(gpu=gpu, tpu=tpu, accelerator=accelerator, cpu=cpu)
    for warning in acc.warnings():
        err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    client = None if render_only else _client()
    who = owner or owner_name(client)
    command = command_line()
    build_root = _build_root()

    if kind == "train":
        plans, run_dir_local = _train_plans(competition, recipe, config, run, folds, fold, parallel, epochs, limit,
                                            batch_size, lr, seed, mixed_precision, overrides, data_dir, who, acc,
                                            internet, public, slug, command)
    else:
        if parallel != 1 or folds or fold:
            raise KKError("--parallel/--folds/--fold are for training kernels")
        ref = resolve_competition(competition, data_dir)
        weights = _pick_weights(weights, run, ref.slug)
        spec = _spec_of(ref.data_dir, ref.slug)
        plans = [inference_plan(who, ref.slug, weights, tta=tta, weighted=weighted, accelerator=acc,
                                internet=internet, public=public, spec=spec, slug=slug, command=command)]
        run_dir_local = None
        if internet:
            err_console.print("[yellow]note:[/] code competitions require internet off for submission kernels",
                              soft_wrap=True)
    kernels = [render_kernel(p, build_root, secret=_secret(client)) for p in plans]
    for k in kernels:
        err_console.print(f"rendered [bold]{k.ref}[/] into {k.build_dir}  ({acc.describe()}, internet "
                          f"{'on' if internet else 'off'}, {len(k.bundle.modules)} modules embedded"
                          + (f", template {k.template}" if k.template.parent.name == "kernels" else "") + ")",
                          soft_wrap=True)
    if render_only:
        if as_json:
            rows = [{"ref": k.ref, "version": None, "status": "RENDERED", "build_dir": str(k.build_dir)}
                    for k in kernels]
            typer.echo(json.dumps(rows[0] if len(rows) == 1 else {"kernels": rows}))
        else:
            for k in kernels:
                console.print(str(k.build_dir))
        return
    _push_and_follow(client, kernels, kind, acc, wait, session_timeout, poll_interval, wait_timeout, run_dir_local,
                     as_json)


def _train_plans(competition, recipe, config, run, folds, fold, parallel, epochs, limit, batch_size, lr, seed,
                 mixed_precision, overrides, data_dir, who, acc, internet, public, slug, command):
    from kaggle_kit.kernels.push import split_folds
    from kaggle_kit.kernels.render import train_plan
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs
    from kaggle_kit.training.recipes import resolve_lr

    k, subset = _split_folds_option(folds)
    flag_sets = flag_overrides(**{"folds": k, "epochs": epochs, "batch_size": batch_size, "optimizer.lr": lr,
                                   "limit": limit, "seed": seed, "mixed_precision": mixed_precision})
    if run is not None:
        from kaggle_kit.config import apply_overrides
        from kaggle_kit.training.rundir import load_run_recipe

        runs.require_run_dir(run)
        if recipe or config:
            raise KKError("--run continues a run with its own recipe; leave out --recipe/--config")
        info = runs.read_json(run / runs.RUN_FILE) or {}
        competition = competition or info.get("competition")
        cfg = apply_overrides(load_run_recipe(run), flag_sets + list(overrides or []))
        run_id = run.name
        done = set(runs.done_folds(run))
    else:
        cfg = resolve_recipe(recipe, config, flag_sets + list(overrides or []))
        run_id = None
        done = set()
    ref = resolve_competition(competition, data_dir)
    cfg, lr_source = resolve_lr(cfg, ref.slug)
    if lr_source != "recipe":
        err_console.print(f"[dim]learning rate {cfg.optimizer.lr:.2e} from {lr_source}[/]", soft_wrap=True)
    run_id = run_id or runs.new_run_id(cfg.name)
    chosen = sorted(set(subset or []) | set(fold or [])) or [f for f in range(cfg.folds) if f not in done]
    bad = [f for f in chosen if f >= cfg.folds]
    if bad:
        raise KKError(f"fold(s) {bad} do not exist: the recipe has {cfg.folds} folds (0..{cfg.folds - 1})")
    if not chosen:
        raise KKError(f"{run}: every fold is already trained; nothing for a kernel to do")
    spec = _spec_of(ref.data_dir, ref.slug)
    parts = split_folds(chosen, parallel)
    plans = []
    for i, part in enumerate(parts):
        part_slug = None if len(parts) == 1 else f"p{i}"
        explicit = f"{slug}-{part_slug}" if slug and part_slug else slug
        every = part == list(range(cfg.folds))
        plans.append(train_plan(who, ref.slug, cfg, run_id, folds=None if every else part, accelerator=acc,
                                internet=internet, public=public, spec=spec, slug=explicit, part=part_slug,
                                command=command))
    local_run = runs.runs_base() / ref.slug / run_id
    return plans, local_run


def _pick_weights(weights: str | None, run: Path | None, competition: str) -> str:
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
    err_console.print(f"[dim]weights:[/] {ref} (run {manifest.get('run_id')}, staged {manifest.get('created')})",
                      soft_wrap=True)
    return ref


def _push_and_follow(client, kernels, kind, acc, wait, session_timeout, poll_interval, wait_timeout, run_dir_local,
                     as_json) -> None:
    from kaggle_kit.kernels.push import (
        accelerator_warning,
        fetch_outputs,
        install_run,
        kernel_run_dir,
        push_kernel,
        wait_kernels,
    )
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs

    pushed = []
    for k in kernels:
        p = push_kernel(client, k, timeout=session_timeout)
        pushed.append(p)
        err_console.print(f"pushed [bold]{p.ref}[/] version {p.version}: {p.url or ''}", soft_wrap=True)
    rows = [{"ref": p.ref, "version": p.version, "status": "QUEUED", "build_dir": str(p.build_dir), "url": p.url}
            for p in pushed]
    if not wait:
        for p in pushed:
            err_console.print(f"[dim]follow it with `kk kernel-status {p.ref}`; fetch its outputs with "
                              f"`kk kernel-output {p.ref}`[/]", soft_wrap=True)
        _emit(rows, as_json, console_lines=[f"{r['ref']} version {r['version']}: pushed" for r in rows])
        return
    t0 = time.monotonic()
    with err_console.status("waiting for the kernel session...", spinner="dots") as status:
        finals = wait_kernels(client, [(p.ref, p.version) for p in pushed], poll=_poll(client, poll_interval),
                              timeout=wait_timeout, on_status=lambda s: status.update(_status_text(s, t0)))
    failed = False
    run_parts = []
    for p, final, row in zip(pushed, finals, rows):
        row["status"] = final.status
        row["failure_message"] = final.failure_message
        out = fetch_outputs(client, p.ref, p.version, p.build_dir / "output")
        row["output_dir"] = str(out.folder)
        row["outputs"] = sorted(str(f.relative_to(out.folder)) for f in out.files)
        ok = final.status == "COMPLETE"
        _print_tail(out.tail(25 if not ok else 8), f"{p.ref} v{p.version} log (last lines):",
                    "red" if not ok else "dim")
        warning = accelerator_warning(acc, out.log)
        if warning:
            row["warning"] = warning
            err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
        if not ok:
            failed = True
            err_console.print(f"[red]{p.ref} v{p.version}: {final.status}[/]"
                              + (f": {final.failure_message}" if final.failure_message else ""), soft_wrap=True)
            continue
        if kind == "train":
            found = kernel_run_dir(out)
            if found is None:
                failed = True
                err_console.print(f"[red]{p.ref}: no run folder in its outputs ({out.folder})[/]", soft_wrap=True)
            else:
                run_parts.append(found)
        else:
            sub = out.folder / "submission.csv"
            row["submission"] = str(sub) if sub.is_file() else None
    result = {"kernels": rows}
    if kind == "train" and run_parts and not failed:
        competition = str((runs.read_json(run_parts[0] / runs.RUN_FILE) or {}).get("competition"))
        data = resolve_competition(competition).data_dir
        target = install_run(run_parts, runs.runs_base(), competition_data=data)
        result["run_dir"] = str(target)
        for row in rows:
            row["run_dir"] = str(target)
        metrics = runs.read_json(target / runs.METRICS_FILE) or {}
        cv = metrics.get("cv_accuracy")
        err_console.print(f"run folder: [bold]{target}[/]  folds done {runs.done_folds(target)}"
                          + (f"  CV accuracy {cv:.5f}" if isinstance(cv, (int, float)) else ""), soft_wrap=True)
        if len(run_parts) > 1 and not data.is_dir():
            err_console.print(f"[yellow]note:[/] no local data for {competition}: run `kk download {competition}` "
                              f"then `kk train --run-dir {target}` to rebuild the run's metrics and plots",
                              soft_wrap=True)
    lines = [f"{r['ref']} version {r['version']}: {r['status']}"
             + (f" -> {r.get('run_dir') or r.get('submission') or r['output_dir']}" if r["status"] == "COMPLETE"
                else "") for r in rows]
    _emit(rows, as_json, console_lines=lines, extra=result)
    if failed:
        raise typer.Exit(1)


def _emit(rows: list[dict], as_json: bool, console_lines: list[str], extra: dict | None = None) -> None:
    if as_json:
        if len(rows) == 1:
            payload = dict(rows[0])
            if extra and extra.get("run_dir"):
                payload["run_dir"] = extra["run_dir"]
        else:
            payload = {"kernels": rows, **{k: v for k, v in (extra or {}).items() if k != "kernels"}}
        typer.echo(json.dumps(payload))
        return
    for line in console_lines:
        console.print(line, soft_wrap=True)


# --- kk kernel-status / kernel-output ---------------------------------------------------------------------------


def kernel_status(
    ref: Annotated[str, typer.Argument(help="The kernel, OWNER/SLUG or OWNER/SLUG/VERSION.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a kernel's session status (QUEUED, RUNNING, COMPLETE, ERROR) and its failure message."""
    status = _client().kernel_status(ref)
    if as_json:
        typer.echo(json.dumps({"ref": ref, "status": status.status, "failure_message": status.failure_message}))
        return
    colour = {"COMPLETE": "green", "ERROR": "red"}.get(status.status, "yellow")
    console.print(f"{ref}: [{colour}]{status.status}[/]" + (f"  {status.failure_message}"
                                                             if status.failure_message else ""), soft_wrap=True)


def kernel_output(
    ref: Annotated[str, typer.Argument(help="The kernel, OWNER/SLUG or OWNER/SLUG/VERSION.")],
    path: Annotated[Optional[Path], typer.Option("--path", "-p", help="Folder for the outputs (default: "
                                                 "kernels/build/<slug>/output/).", show_default=False)] = None,
    install: Annotated[bool, typer.Option("--install/--no-install", help="Copy a training kernel's run folder "
                                          "into runs/.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Download a kernel's output files and log; a training kernel's run folder goes into runs/."""
    from kaggle_kit.kaggle.types import split_ref
    from kaggle_kit.kernels.push import fetch_outputs, install_run, kernel_run_dir
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs

    owner, slug, version = split_ref(ref, "kernel")
    dest = path or _build_root() / slug / "output"
    client = _client()
    status = client.kernel_status(ref, version)
    with err_console.status(f"downloading the outputs of {owner}/{slug}..."):
        out = fetch_outputs(client, f"{owner}/{slug}", version, dest)
    result = {"ref": f"{owner}/{slug}", "version": version, "status": status.status, "path": str(dest),
              "files": sorted(str(f.relative_to(dest)) for f in out.files)}
    found = kernel_run_dir(out) if install and status.status == "COMPLETE" else None
    if found is not None:
        competition = str((runs.read_json(found / runs.RUN_FILE) or {}).get("competition"))
        target = install_run([found], runs.runs_base(), resolve_competition(competition).data_dir)
        result["run_dir"] = str(target)
    if as_json:
        typer.echo(json.dumps(result))
        return
    _print_tail(out.tail(15), "log (last lines):")
    console.print(f"{len(out.files)} file(s) in {dest} ({status.status})", soft_wrap=True)
    if "run_dir" in result:
        console.print(f"run folder: {result['run_dir']}", soft_wrap=True)


# --- kk run-kernel ----------------------------------------------------------------------------------------------


def run_kernel(
    folder: Annotated[Path, typer.Argument(help="A rendered kernel folder (kernel-metadata.json + code), e.g. "
                                           "kernels/build/digit-recognizer-kk-inference.")],
    datasets_root: Annotated[Optional[Path], typer.Option("--datasets-root", help="Where inputs come from: "
                                                          "competitions at ROOT/<slug>, datasets at "
                                                          "ROOT/<owner>/<slug> (default: kk.toml's datasets_dir, "
                                                          "else datasets/).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where the outputs go (default: DIR/output/).",
                                                show_default=False)] = None,
    layout: Annotated[str, typer.Option("--layout", help="Mount layout under the input root: nested "
                                        "(competitions/<slug>, datasets/<owner>/<slug>) or flat (<slug>).")]
    = "nested",
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Session limit in seconds.",
                                                     show_default=False)] = None,
    allow_weak_isolation: Annotated[bool, typer.Option("--allow-weak-isolation", help="Where `unshare -n` is not "
                                                       "available, block sockets with a Python audit hook instead "
                                                       "of refusing (weaker: subprocesses are not covered).")]
    = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the kernel's log.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a rendered kernel here as Kaggle (and the emulator) would: local inputs, temp working dir, no network
    when its metadata says internet off, outputs copied back."""
    from kaggle_kit.kernels.metadata import as_bool, read_metadata
    from kaggle_kit.kernels.sandbox import input_mounts
    from kaggle_kit.kernels.sandbox import run_kernel as sandbox_run
    from kaggle_kit.kernels.weights import datasets_root as default_datasets_root

    meta = read_metadata(folder)
    root = datasets_root or default_datasets_root()
    comps, datasets, kernels = {}, {}, {}
    for slug in meta.get("competition_sources") or []:
        comps[slug] = root / slug
    for ref in meta.get("dataset_sources") or []:
        datasets[ref] = root / ref
    for ref in meta.get("kernel_sources") or []:
        kernels[ref] = _build_root() / ref.split("/")[1] / "output"
    missing = [f"{what} {name} ({path})" for what, group in (("competition", comps), ("dataset", datasets),
                                                              ("kernel output", kernels))
               for name, path in group.items() if not path.is_dir()]
    if missing:
        raise KKError(f"{folder}: inputs not found here: {', '.join(missing)}",
                      hint="kk download COMPETITION fetches a competition; kk upload-weights stages a weights "
                           "dataset under datasets/<owner>/<slug>/.")
    internet = as_bool(meta.get("enable_internet"), True)
    accel = "tpu" if as_bool(meta.get("enable_tpu"), False) else "gpu" if as_bool(meta.get("enable_gpu"), False) \
        else "cpu"
    dest = out or Path(folder) / "output"
    if out is None and dest.is_dir():
        import shutil

        shutil.rmtree(dest)  # kk's own folder: it shows this run's outputs only

    def show(entry: dict) -> None:
        if not quiet and not as_json:
            style = "red" if entry["stream_name"] == "stderr" else "dim"
            err_console.print(f"[{style}]{entry['data'].rstrip()}[/]", markup=True, highlight=False, soft_wrap=True,
                              emoji=False)

    result = sandbox_run(Path(folder) / meta["code_file"], dest, mounts=input_mounts(comps, datasets, kernels,
                                                                                   layout=layout),
                         internet=internet, timeout=timeout, accelerator=accel, machine_shape=meta.get("machine_shape"),
                         weak_isolation=allow_weak_isolation, on_line=show)
    (dest / "kernel.log").write_text(json.dumps(result.log))
    payload = {"status": result.status, "failure_message": result.failure_message, "output_dir": str(dest),
               "outputs": result.outputs, "isolation": result.isolation, "seconds": round(result.seconds, 1)}
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        if quiet or result.status != "COMPLETE":
            _print_tail(result.log_tail(), "log (last lines):", "red" if result.status != "COMPLETE" else "dim")
        colour = "green" if result.status == "COMPLETE" else "red"
        console.print(f"[{colour}]{result.status}[/] in {result.seconds:.0f}s (network: {result.isolation}); "
                      f"{len(result.outputs)} output file(s) in {dest}"
                      + (f"\n{result.failure_message}" if result.failure_message else ""), soft_wrap=True)
    if result.status != "COMPLETE":
        raise typer.Exit(1)


# --- kk upload-weights ------------------------------------------------------------------------------------------


def upload_weights(
    run_dir: Annotated[Optional[Path], typer.Argument(help="The run folder (default: the newest run of kk.toml's "
                                                      "competition).", show_default=False)] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="OWNER/SLUG of the weights dataset (default: "
                                                   "<owner>/<competition>-kk-weights; a new version when it "
                                                   "exists).", show_default=False)] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Version notes.")] = "",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until Kaggle has the dataset ready.")] = True,
    poll_interval: PollOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a run's fold weights (+ config, spec, sha256 manifest) as a Kaggle dataset for offline inference."""
    from kaggle_kit.kernels.push import owner_name
    from kaggle_kit.kernels.weights import stage_weights
    from kaggle_kit.kernels.weights import upload_weights as upload

    client = _client()
    run_dir = run_dir or _newest_run()
    if dataset:
        if dataset.count("/") != 1:
            raise KKError(f"--dataset {dataset!r}: expected OWNER/SLUG")
        who, slug = dataset.split("/")
    else:
        who, slug = owner_name(client), None
    staged = stage_weights(run_dir, who, slug, secret=_secret(client))
    err_console.print(f"staged {len(staged.files)} files in {staged.folder} (folds {staged.manifest['folds']} of "
                      f"run {staged.run_id})", soft_wrap=True)
    table = Table(show_header=True, title=f"{staged.ref}", title_justify="left")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    table.add_column("sha256")
    for name, info in staged.manifest["files"].items():
        table.add_row(name, f"{info['bytes']:,}", info["sha256"][:16])
    if not as_json:
        err_console.print(table)
    poll = _poll(client, poll_interval)
    with err_console.status(f"uploading {staged.ref}..."):
        result = upload(client, staged, message, wait=wait, poll=poll)
    if as_json:
        typer.echo(json.dumps({"ref": result.ref, "version": result.version, "created": result.created,
                               "status": result.status, "folder": str(staged.folder), "files": staged.files}))
        return
    what = "created" if result.created else f"new version {result.version or ''}".rstrip()
    console.print(f"{result.ref} ({what}, {result.status})", soft_wrap=True)
    console.print(f"[dim]next: kk push-kernel inference {staged.manifest['competition']} --weights {result.ref} "
                  "--no-internet --wait[/]", soft_wrap=True)


def _newest_run() -> Path:
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training.runs import list_runs

    ref = resolve_competition(None)
    found = [r for r in list_runs(ref.slug) if r.folds_done > 0]
    if not found:
        raise KKError(f"no trained run of {ref.slug} in runs/; pass RUN_DIR")
    err_console.print(f"[dim]run:[/] {found[-1].path} (newest with finished folds)", soft_wrap=True)
    return Path(found[-1].path)
