"""`kk push-kernel`, `kk kernel-status`, `kk kernel-output`, `kk run-kernel`, `kk upload-weights`: Kaggle kernels.

A training kernel trains a recipe's folds on Kaggle's GPU/TPU and its run folder comes back into `runs/`; a
run's weights go up as a dataset; an offline inference kernel turns them into a submission. `kk run-kernel`
runs any rendered kernel here first, offline, the way the emulator (and Kaggle) would. The work is done by
`kaggle_kit.kernels.workflow` (and `planning`, `local`, `weights`); these commands parse, call and render.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kaggle_kit.accelerators import Accelerator
from kaggle_kit.cli.common import (
    CompetitionArg,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    LimitOpt,
    QuietOpt,
    RecipeOpt,
    SetOpt,
    console,
    emit_json,
    err_console,
)
from kaggle_kit.errors import KKError
from kaggle_kit.kernels import workflow as wf
from kaggle_kit.kernels.mounts import InputLayout
from kaggle_kit.status import KernelStatus

PollOpt = Annotated[Optional[float], typer.Option("--poll-interval", help="Seconds between status checks "
                                                  "(default 30; 1 against an emulator).", show_default=False)]
# The timeout vocabulary: --timeout is how long kk waits (the kernel runs on regardless), --session-timeout is
# the limit Kaggle puts on the kernel's session.
TimeoutOpt = Annotated[Optional[float], typer.Option("--timeout", help="Stop waiting after this many seconds (the "
                                                     "kernel keeps running on Kaggle).", show_default=False)]
SessionTimeoutOpt = Annotated[Optional[int], typer.Option("--session-timeout", help="Kaggle's limit on the "
                                                          "kernel's session, in seconds.", show_default=False)]
RefArg = Annotated[str, typer.Argument(help="The kernel, OWNER/SLUG or OWNER/SLUG/VERSION.")]


def register(app: typer.Typer) -> None:
    app.command("push-kernel")(push_kernel_cmd)
    app.command("kernel-status")(kernel_status_cmd)
    app.command("kernel-output")(kernel_output_cmd)
    app.command("run-kernel")(run_kernel_cmd)
    app.command("upload-weights")(upload_weights_cmd)


def _note(text: str) -> None:
    err_console.print(f"[dim]{text}[/]", soft_wrap=True)


def _print_tail(lines: list[str], title: str, style: str = "dim") -> None:
    err_console.print(f"[bold]{title}[/]")
    for line in lines:
        err_console.print(f"  [{style}]{line}[/]", markup=True, highlight=False, soft_wrap=True, emoji=False)


class _Follow:
    """Renders the workflow's progress: pushes, a spinner while waiting, then each finished kernel's log tail."""

    def __init__(self, quiet: bool = False) -> None:
        self.states: dict[str, str] = {}
        self.pushed_refs: list[str] = []  # OWNER/SLUG/VERSION of each kernel pushed, to follow it again
        self.spinner = None
        self.quiet = quiet
        self.progress = wf.Progress(on_note=self.note, on_advice=self.advice, on_pushed=self.pushed,
                                    on_status=self.status, on_log_tail=self.log_tail)

    def note(self, text: str) -> None:
        if not self.quiet:
            _note(text)

    @staticmethod
    def advice(text: str) -> None:
        err_console.print(f"[yellow]note:[/] {text}", soft_wrap=True)

    def pushed(self, k: wf.KernelReport) -> None:
        self.pushed_refs.append(f"{k.ref}/{k.version}" if k.version else k.ref)
        if not self.quiet:
            err_console.print(f"pushed [bold]{k.ref}[/] version {k.version}: {k.url or ''}", soft_wrap=True)

    def status(self, ref: str, status: str, elapsed: float) -> None:
        self.states[ref] = str(status)
        if self.quiet:
            return
        text = ", ".join(f"{r}: {s}" for r, s in self.states.items()) + f"  ({elapsed:.0f}s)"
        if self.spinner is None:
            self.spinner = err_console.status(text, spinner="dots")
            self.spinner.start()
        self.spinner.update(text)

    def stop(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None

    def log_tail(self, k: wf.KernelReport, lines: list[str]) -> None:
        self.stop()
        complete = k.status == KernelStatus.COMPLETE
        if self.quiet and complete and not k.problem:  # a failure is the result: shown even when quiet
            return
        _print_tail(lines, f"{k.ref} v{k.version} log (last lines):", "dim" if complete else "red")
        if k.warning:
            err_console.print(f"[yellow]warning:[/] {k.warning}", soft_wrap=True)
        if not complete:
            err_console.print(f"[red]{k.ref} v{k.version}: {k.status}[/]"
                              + (f": {k.failure_message}" if k.failure_message else ""), soft_wrap=True)
        elif k.problem:
            err_console.print(f"[red]{k.problem}[/]", soft_wrap=True)


def push_kernel_cmd(
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
    folds: Annotated[Optional[str], typer.Option("--folds", help="Number of folds K (as in kk train); pick folds "
                                                 "with --fold I.", show_default=False)] = None,
    fold: Annotated[Optional[list[int]], typer.Option("--fold", help="Train only this fold (repeatable).",
                                                      show_default=False)] = None,
    parallel: Annotated[int, typer.Option("--parallel", help="Fan the folds out over N kernels (one fold subset "
                                          "each) and gather them into one run folder. Kaggle runs at most 2 GPU "
                                          "sessions (1 TPU assumed) at once per account: with --wait kk pushes the rest "
                                          "as sessions end.")] = 1,
    internet: Annotated[bool, typer.Option("--internet/--no-internet", help="Internet in the session (default "
                                           "off: kk kernels need none).")] = False,
    public: Annotated[bool, typer.Option("--public", help="Make the kernel public (default private).")] = False,
    allow_cpu_fallback: Annotated[bool, typer.Option("--allow-cpu-fallback", help="A --gpu/--tpu kernel that finds "
                                                     "no accelerator runs on the CPU instead of stopping at once.")]
    = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the session, print its log tail, and bring the "
                                       "outputs home.")] = False,
    render_only: Annotated[bool, typer.Option("--render-only", help="Render into kernels/build/<slug>/ and stop.")]
    = False,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs per fold (overrides the recipe's).",
                                                  show_default=False)] = None,
    budget: Annotated[Optional[float], typer.Option("--budget", help="Minutes of wall clock per fold in the "
                                                    "session, as kk train --budget (overrides --epochs); the "
                                                    "folds of one kernel must fit Kaggle's session limit.",
                                                    show_default=False)] = None,
    limit: LimitOpt = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Batch size (overrides the recipe's).",
                                                      show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (overrides the recipe's).",
                                                show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Random seed (overrides the recipe's).",
                                                show_default=False)] = None,
    mixed_precision: Annotated[bool, typer.Option("--mixed-precision", help="float16 compute on GPU.")] = False,
    overrides: SetOpt = None,
    tta: Annotated[Optional[int], typer.Option("--tta", help="inference: augmented test-time passes (default: the "
                                               "recipe's).", show_default=False)] = None,
    weighted: Annotated[bool, typer.Option("--weighted", help="inference: weight folds by CV accuracy.")] = False,
    slug: Annotated[Optional[str], typer.Option("--slug", help="Kernel slug (default <competition>-kk-<kind>).",
                                                show_default=False)] = None,
    owner: Annotated[Optional[str], typer.Option("--owner", help="Kaggle user owning the kernel (default: kk.toml's "
                                                 "owner, else your username).", show_default=False)] = None,
    session_timeout: SessionTimeoutOpt = None,
    poll_interval: PollOpt = None,
    wait_timeout: TimeoutOpt = None,
    old_wait_timeout: Annotated[Optional[float], typer.Option("--wait-timeout", hidden=True,
                                                              help="Old name of --timeout.")] = None,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Render a training or offline inference kernel, push it to Kaggle, and (--wait) bring its outputs home.

    Bare `kk push-kernel --gpu` pushes the training kernel for kk.toml's competition with its default recipe.
    """
    from kaggle_kit.kernels.planning import plan_inference_kernel, plan_train_kernels, resolve_kind
    from kaggle_kit.kernels.push import owner_name
    from kaggle_kit.kernels.render import command_line

    if folds is not None and not folds.strip().isdigit():
        picked = " ".join(f"--fold {f.strip()}" for f in folds.split(",") if f.strip())
        raise KKError(f"--folds is the number of folds K; to train some folds only, give them with --fold "
                      f"(repeatable): {picked}")
    wait_timeout = wait_timeout if wait_timeout is not None else old_wait_timeout
    kind_, competition = resolve_kind(kind, competition)
    acc = Accelerator.from_flags(gpu=gpu, tpu=tpu, accelerator=accelerator, cpu=cpu)
    for warning in acc.warnings():
        err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    client = None if render_only else wf.kaggle_client()
    shared = dict(competition=competition, run=run, data_dir=data_dir, owner=owner or owner_name(client),
                  accelerator=acc, internet=internet, public=public, slug=slug, command=command_line(),
                  allow_cpu_fallback=allow_cpu_fallback)
    follow = _Follow(quiet=quiet)
    if kind_ is wf.KernelKind.TRAIN:
        planning = plan_train_kernels(wf.TrainKernelRequest(
            recipe=recipe, config=config, folds=folds, fold=tuple(fold or ()), parallel=parallel, epochs=epochs,
            budget_minutes=budget, limit=limit, batch_size=batch_size, lr=lr, seed=seed, mixed_precision=mixed_precision,
            overrides=tuple(overrides or ()), **shared), follow.progress)
    else:
        if parallel != 1 or folds or fold or budget is not None:
            raise KKError("--parallel/--folds/--fold/--budget are for training kernels")
        planning = plan_inference_kernel(wf.InferenceKernelRequest(weights=weights, tta=tta, weighted=weighted,
                                                                   **shared), follow.progress)
    kernels = wf.render_plans(planning, secret=wf.kaggle_secret(client))
    for k in kernels if not quiet else ():
        err_console.print(f"rendered [bold]{k.ref}[/] into {k.build_dir}  ({acc.describe()}, internet "
                          f"{'on' if internet else 'off'}, {len(k.bundle.modules)} modules embedded"
                          + (f", template {k.template}" if k.template.parent.name == "kernels" else "") + ")",
                          soft_wrap=True)
    if render_only:
        report = wf.PushReport(planning.kind, wf.rendered_reports(planning, kernels))
        if as_json:
            return emit_json(report.to_json())
        for k in report.kernels:
            console.print(str(k.build_dir))
        return
    options = wf.WaitOptions(wait=wait, poll_interval=poll_interval, timeout=wait_timeout,
                             session_timeout=session_timeout)
    try:
        report = wf.push_and_follow(client, kernels, planning, options, follow.progress)
    except KeyboardInterrupt:
        follow.stop()
        _interrupted(follow.pushed_refs)
    finally:
        follow.stop()
    _render_push(report, wait, as_json, quiet)


def _interrupted(refs: list[str]) -> None:
    """Ctrl-C while waiting: only kk stops; say so, and how to pick the kernel up again."""
    if not refs:
        err_console.print("[yellow]interrupted[/] before any kernel was pushed", soft_wrap=True)
        raise typer.Exit(130)
    err_console.print("[yellow]interrupted[/]: kk stopped waiting; the kernel keeps running on Kaggle.", soft_wrap=True)
    for ref in refs:
        err_console.print(f"  follow it again: kk kernel-status {ref} --follow", soft_wrap=True)
        err_console.print(f"  then fetch its outputs: kk kernel-output {ref}", soft_wrap=True)
    raise typer.Exit(130)


def _render_push(report: wf.PushReport, waited: bool, as_json: bool, quiet: bool = False) -> None:
    if quiet and not as_json:
        for k in report.kernels:
            console.print(f"{k.ref}/{k.version}" if k.version else k.ref, soft_wrap=True)
        if report.failed:
            raise typer.Exit(1)
        return
    if not waited:
        for k in report.kernels:
            if not k.pushed:
                continue
            _note(f"follow it with `kk kernel-status {k.ref} --follow`; fetch its outputs with "
                  f"`kk kernel-output {k.ref}`")
    if report.kind is wf.KernelKind.INFERENCE and not as_json:
        for k in report.kernels:
            if not waited or k.ok:
                version = f" --kernel-version {k.version}" if k.version else ""
                _note(f"next: kk submit --kernel {k.ref}{version} --wait")
    elif report.run_dir is not None and not as_json and not report.failed:
        _note(f"next: kk predict {report.run_dir}, or publish the weights: kk upload-weights {report.run_dir}")
    if report.run_dir is not None:
        cv = f"  CV accuracy {report.cv_accuracy:.5f}" if report.cv_accuracy is not None else ""
        err_console.print(f"run folder: [bold]{report.run_dir}[/]  folds done {report.folds_done}{cv}", soft_wrap=True)
    if report.data_missing:
        name = report.data_missing
        err_console.print(f"[yellow]note:[/] no local data for {name}: run `kk download {name}` then "
                          f"`kk train --run-dir {report.run_dir}` to rebuild the run's metrics and plots",
                          soft_wrap=True)
    if as_json:
        emit_json(report.to_json())
    else:
        for k in report.kernels:
            if k.status == wf.NOT_PUSHED:
                err_console.print(f"[red]{k.ref}: not pushed[/]: {k.failure_message}", soft_wrap=True)
                continue
            done = f" -> {k.run_dir or k.submission or k.output_dir}" if k.status == KernelStatus.COMPLETE else ""
            console.print(f"{k.ref} version {k.version}: " + (f"{k.status}{done}" if waited else "pushed"),
                          soft_wrap=True)
    if report.failed:
        raise typer.Exit(1)


def kernel_status_cmd(
    ref: RefArg,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream the kernel's log until its session ends "
                                         "(exit 1 if it ends in ERROR).")] = False,
    poll_interval: PollOpt = None,
    timeout: TimeoutOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the status (with --follow: not the "
                                        "log).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a kernel's session status (QUEUED, RUNNING, COMPLETE, ERROR); --follow streams its log to the end."""
    from kaggle_kit.kernels.follow import follow_kernel

    client = wf.kaggle_client()
    if follow:
        spinner = err_console.status(f"following {ref}...", spinner="dots") if not (quiet or as_json) else None

        def lines(new: list[str]) -> None:
            if not (quiet or as_json):
                for line in new:
                    err_console.print(f"[dim]{line}[/]", markup=True, highlight=False, soft_wrap=True, emoji=False)

        def status(state: str, elapsed: float) -> None:
            if spinner is not None:
                spinner.update(f"{ref}: {state}  ({elapsed:.0f}s)")

        if spinner is not None:
            spinner.start()
        try:
            session = follow_kernel(client, ref, poll=wf.poll_interval(client, poll_interval), timeout=timeout,
                                    on_lines=lines, on_status=status)
        except KeyboardInterrupt:
            if spinner is not None:
                spinner.stop()
            _interrupted([ref])
        finally:
            if spinner is not None:
                spinner.stop()
    else:
        session = client.kernel_status(ref)
    if as_json:
        emit_json({"ref": ref, "status": session.status, "failure_message": session.failure_message})
    else:
        colour = {KernelStatus.COMPLETE: "green", KernelStatus.ERROR: "red"}.get(session.status, "yellow")
        console.print(f"{ref}: [{colour}]{session.status}[/]" + (f"  {session.failure_message}"
                                                                  if session.failure_message else ""), soft_wrap=True)
    if follow and session.status != KernelStatus.COMPLETE:
        raise typer.Exit(1)


def kernel_output_cmd(
    ref: RefArg,
    path: Annotated[Optional[Path], typer.Option("--path", "-p", help="Folder for the outputs (default: "
                                                 "kernels/build/<slug>/output/).", show_default=False)] = None,
    install: Annotated[bool, typer.Option("--install/--no-install", help="Copy a training kernel's run folder "
                                          "into runs/.")] = True,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Download a kernel's output files and log; a training kernel's run folder goes into runs/."""
    with err_console.status(f"downloading the outputs of {'/'.join(ref.split('/')[:2])}...") \
            if not (quiet or as_json) else nullcontext():
        report = wf.fetch_kernel_output(wf.kaggle_client(), ref, path, install=install)
    if as_json:
        return emit_json(report.to_json())
    if quiet:
        return console.print(str(report.run_dir or report.path), soft_wrap=True)
    _print_tail(report.tail, "log (last lines):")
    console.print(f"{len(report.files)} file(s) in {report.path} ({report.status})", soft_wrap=True)
    if report.run_dir is not None:
        console.print(f"run folder: {report.run_dir}", soft_wrap=True)


def run_kernel_cmd(
    folder: Annotated[Path, typer.Argument(help="A rendered kernel folder (kernel-metadata.json + code), e.g. "
                                           "kernels/build/digit-recognizer-kk-inference.")],
    datasets_root: Annotated[Optional[Path], typer.Option("--datasets-root", help="Where inputs come from: "
                                                          "competitions at ROOT/<slug>, datasets at "
                                                          "ROOT/<owner>/<slug> (default: kk.toml's datasets_dir, "
                                                          "else datasets/).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where the outputs go (default: DIR/output/).",
                                                show_default=False)] = None,
    layout: Annotated[InputLayout, typer.Option("--layout", help="Mount layout under the input root: nested "
                                                "(competitions/<slug>, datasets/<owner>/<slug>) or flat (<slug>).")]
    = InputLayout.NESTED,
    timeout: Annotated[Optional[float], typer.Option("--session-timeout", help="The session's limit in seconds "
                                                     "(kk stops the kernel then, as Kaggle would).",
                                                     show_default=False)] = None,
    old_timeout: Annotated[Optional[float], typer.Option("--timeout", hidden=True,
                                                         help="Old name of --session-timeout.")] = None,
    allow_weak_isolation: Annotated[bool, typer.Option("--allow-weak-isolation", help="Where `unshare -n` is not "
                                                       "available, block sockets with a Python audit hook instead "
                                                       "of refusing (weaker: subprocesses are not covered).")]
    = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the kernel's log.")] = False,
    image: Annotated[str, typer.Option("--image", help="Image profile to run under: kaggle (Kaggle's image for the "
                                       "kernel's accelerator: kaggle-tpu for a TPU kernel, else kaggle-gpu), "
                                       "kaggle-gpu or kaggle-tpu (Kaggle's library versions over this environment, "
                                       "simulated devices; built once into the user cache), or local (this "
                                       "environment as it is).")] = "kaggle",
    as_json: JsonOpt = False,
) -> None:
    """Run a rendered kernel here as Kaggle (and the emulator) would: local inputs, temp working dir, no network
    when its metadata says internet off, outputs copied back."""
    from kaggle_kit.kernels.local import run_rendered_kernel

    def show(entry: dict) -> None:
        if not quiet and not as_json:
            style = "red" if entry["stream_name"] == "stderr" else "dim"
            err_console.print(f"[{style}]{entry['data'].rstrip()}[/]", markup=True, highlight=False, soft_wrap=True,
                              emoji=False)

    timeout = timeout if timeout is not None else old_timeout
    result = run_rendered_kernel(folder, datasets_root, out, layout, timeout, allow_weak_isolation, on_line=show,
                                 image=image, progress=lambda s: err_console.print(s, soft_wrap=True, markup=False))
    ok = result.status == KernelStatus.COMPLETE
    if as_json:
        emit_json({"status": result.status, "failure_message": result.failure_message,
                   "output_dir": str(result.output_dir), "outputs": result.outputs, "isolation": result.isolation,
                   "seconds": round(result.seconds, 1)})
    else:
        if quiet or not ok:
            _print_tail(result.log_tail(), "log (last lines):", "dim" if ok else "red")
        console.print(f"[{'green' if ok else 'red'}]{result.status}[/] in {result.seconds:.0f}s (network: "
                      f"{result.isolation}); {len(result.outputs)} output file(s) in {result.output_dir}"
                      + (f"\n{result.failure_message}" if result.failure_message else ""), soft_wrap=True)
    if not ok:
        raise typer.Exit(1)


def upload_weights_cmd(
    run_dir: Annotated[Optional[Path], typer.Argument(help="The run folder (default: the newest run of kk.toml's "
                                                      "competition).", show_default=False)] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="OWNER/SLUG of the weights dataset (default: "
                                                   "<owner>/<competition>-kk-weights; a new version when it "
                                                   "exists).", show_default=False)] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Version notes.")] = "",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until Kaggle has the dataset ready.")] = True,
    poll_interval: PollOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish a run's fold weights (+ config, spec, sha256 manifest) as a Kaggle dataset for offline inference."""
    from kaggle_kit.kernels.weights import dataset_target, newest_run, stage_weights, upload_weights

    client = wf.kaggle_client()
    say = (lambda *_a, **_k: None) if quiet else err_console.print
    if run_dir is None:
        run_dir = newest_run()
        say(f"[dim]run:[/] {run_dir} (newest with finished folds)", soft_wrap=True)
    who, slug = dataset_target(dataset, client)
    staged = stage_weights(run_dir, who, slug, secret=wf.kaggle_secret(client))
    say(f"staged {len(staged.files)} files in {staged.folder} (folds {staged.manifest['folds']} of "
                      f"run {staged.run_id})", soft_wrap=True)
    if not (as_json or quiet):
        table = Table(show_header=True, title=f"{staged.ref}", title_justify="left")
        for column, justify in (("file", "left"), ("bytes", "right"), ("sha256", "left")):
            table.add_column(column, justify=justify)
        for name, info in staged.manifest["files"].items():
            table.add_row(name, f"{info['bytes']:,}", info["sha256"][:16])
        err_console.print(table)
    with err_console.status(f"uploading {staged.ref}...") if not (quiet or as_json) else nullcontext():
        result = upload_weights(client, staged, message, wait=wait, poll=wf.poll_interval(client, poll_interval))
    if as_json:
        return emit_json({"ref": result.ref, "version": result.version, "created": result.created,
                          "status": result.status, "folder": str(staged.folder), "files": staged.files})
    if quiet:
        return console.print(result.ref, soft_wrap=True)
    what = "created" if result.created else f"new version {result.version or ''}".rstrip()
    console.print(f"{result.ref} ({what}, {result.status})", soft_wrap=True)
    err_console.print(f"[dim]next: kk push-kernel inference {staged.manifest['competition']} --weights {result.ref} "
                  "--no-internet --wait[/]", soft_wrap=True)
