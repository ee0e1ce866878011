"""The kernels workflow behind `kk push-kernel`: a typed request -> plans -> rendered kernels -> pushed, followed,
and their outputs brought home, as typed reports.

    planning.plan_train_kernels(TrainKernelRequest(...))         -> KernelPlanning (one plan per parallel part)
    planning.plan_inference_kernel(InferenceKernelRequest(...))  -> KernelPlanning (one plan)
    render_plans(planning)                                       -> [RenderedKernel] in kernels/build/<slug>/
    push_and_follow(client, kernels, planning, WaitOptions(wait=True))
                                                         -> PushReport: a KernelReport per kernel, the run folder

Progress goes through the callbacks of a `Progress` (the command line renders them; a library caller may leave
them out), never to a console. Nothing here is embedded in a kernel (`bundle.EXCLUDED_MODULES`).

Example (needs a Kaggle client, so a plain code block):

    client = kaggle_client()
    planning = plan_train_kernels(TrainKernelRequest(owner="alice", epochs=1, accelerator=Accelerator.from_flags(gpu=True)))
    report = push_and_follow(client, render_plans(planning), planning, WaitOptions(wait=True))
    report.failed, report.run_dir, [k.status for k in report.kernels]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from kaggle_kit.accelerators import Accelerator
from kaggle_kit.errors import KKError
from kaggle_kit.status import KernelStatus


class KernelKind(str, Enum):
    """What a kernel does: train a recipe's folds, or turn published weights into a submission."""

    TRAIN = "train"
    INFERENCE = "inference"

    def __str__(self) -> str:
        return self.value


NOT_PUSHED = "NOT_PUSHED"  # a kernel's status when Kaggle refused its push (the others went on)


def _quiet(*_args) -> None:
    return None


@dataclass
class Progress:
    """Where the workflow reports while it works; every callback is optional."""

    on_note: Callable[[str], None] = _quiet  # an informational line (where a default came from)
    on_advice: Callable[[str], None] = _quiet  # something the user may want to act on
    on_pushed: Callable[[KernelReport], None] = _quiet  # a kernel version was pushed
    on_status: Callable[[str, str, float], None] = _quiet  # ref, session status, seconds since waiting began
    on_log_tail: Callable[[KernelReport, list[str]], None] = _quiet  # a finished kernel and its last log lines


@dataclass(frozen=True)
class WaitOptions:
    """Whether and how to follow pushed kernels: `poll_interval` None is 30 s (1 s against an emulator)."""

    wait: bool = False
    poll_interval: float | None = None
    timeout: float | None = None
    session_timeout: int | None = None

    def poll(self, client) -> float:
        return poll_interval(client, self.poll_interval)


@dataclass(frozen=True)
class TrainKernelRequest:
    """`kk push-kernel train`: which recipe on which folds, on what, as whom. `folds` is `"5"` (K) or `"0,2,4"`."""

    competition: str | None = None
    recipe: str | None = None
    config: Path | None = None
    run: Path | None = None  # continue this run folder's remaining folds
    folds: str | None = None
    fold: tuple[int, ...] = ()
    parallel: int = 1
    epochs: int | None = None
    budget_minutes: float | None = None  # wall clock per fold in the session (`kk train --budget`)
    limit: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int | None = None
    mixed_precision: bool = False
    overrides: tuple[str, ...] = ()  # `--set KEY=VALUE`, applied after the flags above
    data_dir: Path | None = None
    owner: str = ""
    accelerator: Accelerator = field(default_factory=Accelerator)
    internet: bool = False
    public: bool = False
    allow_cpu_fallback: bool = False  # a GPU/TPU kernel that finds none trains on the CPU instead of stopping
    slug: str | None = None
    command: str = ""  # the command line (not rendered into the kernel: it may hold local paths)


@dataclass(frozen=True)
class InferenceKernelRequest:
    """`kk push-kernel inference`: which weights dataset (or the one staged for `run`) -> submission.csv."""

    competition: str | None = None
    weights: str | None = None
    run: Path | None = None
    tta: int | None = None
    weighted: bool = False
    data_dir: Path | None = None
    owner: str = ""
    accelerator: Accelerator = field(default_factory=Accelerator)
    internet: bool = False
    public: bool = False
    allow_cpu_fallback: bool = False
    slug: str | None = None
    command: str = ""


@dataclass
class KernelPlanning:
    """The kernels one request becomes, and (training) the run folder their results land in."""

    kind: KernelKind
    accelerator: Accelerator
    internet: bool
    plans: list = field(default_factory=list)  # [KernelPlan]
    run_dir: Path | None = None


@dataclass
class KernelReport:
    """One kernel's fate: rendered, pushed, or followed to its end (outputs fetched, warning, results)."""

    kind: KernelKind
    ref: str
    build_dir: Path
    version: int | None = None
    status: str = "RENDERED"
    url: str | None = None
    followed: bool = False
    failure_message: str | None = None
    output_dir: Path | None = None
    outputs: list[str] = field(default_factory=list)
    warning: str | None = None  # asked for an accelerator and did not get it
    problem: str | None = None  # why kk counts a COMPLETE kernel as failed (no run folder in its outputs)
    submission: Path | None = None
    run_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == KernelStatus.COMPLETE and self.problem is None

    @property
    def pushed(self) -> bool:
        return self.version is not None or self.status not in ("RENDERED", NOT_PUSHED)

    def to_json(self) -> dict:
        row: dict = {"ref": self.ref, "version": self.version, "status": str(self.status),
                     "build_dir": str(self.build_dir)}
        if self.status == NOT_PUSHED:
            row["failure_message"] = self.failure_message
        if not self.pushed:
            return row
        row["url"] = self.url
        if not self.followed:
            return row
        row.update(failure_message=self.failure_message, output_dir=str(self.output_dir), outputs=self.outputs)
        if self.warning:
            row["warning"] = self.warning
        if self.kind is KernelKind.INFERENCE and self.status == KernelStatus.COMPLETE:
            row["submission"] = str(self.submission) if self.submission else None
        if self.run_dir is not None:
            row["run_dir"] = str(self.run_dir)
        return row


@dataclass
class PushReport:
    """What `kk push-kernel` did: a report per kernel and, for training, the run folder installed in runs/."""

    kind: KernelKind
    kernels: list[KernelReport]
    run_dir: Path | None = None
    folds_done: list[int] = field(default_factory=list)
    cv_accuracy: float | None = None
    data_missing: str | None = None  # the competition whose data is needed to rebuild the run's metrics

    @property
    def failed(self) -> bool:
        return any((k.followed and not k.ok) or k.status == NOT_PUSHED for k in self.kernels)

    def to_json(self) -> dict:
        rows = [k.to_json() for k in self.kernels]
        if len(rows) == 1:
            return rows[0]
        return {"kernels": rows, **({"run_dir": str(self.run_dir)} if self.run_dir else {})}


# -- shared look-ups -------------------------------------------------------------------------------------------------


def kaggle_client():
    from kaggle_kit.kaggle.client import KaggleClient

    return KaggleClient()


def kaggle_secret(client=None) -> str | None:
    """The Kaggle key (to make sure it never leaves in a kernel or dataset); None when there are no credentials."""
    if client is not None:
        return client.credentials.secret or None
    from kaggle_kit.kaggle.credentials import find_credentials

    try:
        return find_credentials().secret or None
    except KKError:
        return None


def poll_interval(client, given: float | None) -> float:
    """Seconds between status checks: as given, else 1 against an emulator and 30 against Kaggle."""
    return given if given is not None else (1.0 if client.url else 30.0)


def build_root() -> Path:
    """`kernels/build/` of the project: where kernels are rendered and their outputs fetched."""
    from kaggle_kit.project import project_root

    return project_root() / "kernels" / "build"


def render_plans(planning: KernelPlanning, root: Path | None = None, secret: str | None = None) -> list:
    """Render every plan into `root` (default kernels/build/), refusing any that holds `secret`."""
    from kaggle_kit.kernels.render import render_kernel

    root = root or build_root()
    return [render_kernel(p, root, secret=secret) for p in planning.plans]


def rendered_reports(planning: KernelPlanning, kernels: list) -> list[KernelReport]:
    return [KernelReport(planning.kind, k.ref, k.build_dir) for k in kernels]


# -- push and follow -------------------------------------------------------------------------------------------------


def push_and_follow(client, kernels: list, planning: KernelPlanning, options: WaitOptions,
                    progress: Progress | None = None) -> PushReport:
    """Push each rendered kernel; with `options.wait`, wait for all of them, fetch each one's outputs and log,
    check what it ran on, and install a training run's folder (gathered from every part) into runs/.

    Kaggle runs only `accelerator.session_limit` sessions of a kind at once per account: with `wait`, kk keeps
    that many in flight and pushes the rest as sessions end (`fanout`); without it, more kernels than that
    are refused before any is pushed. A kernel whose push fails is reported (NOT_PUSHED) and the others go on.
    """
    from kaggle_kit.kernels.fanout import run_within_limit
    from kaggle_kit.kernels.push import push_kernel

    progress = progress or Progress()
    limit = planning.accelerator.session_limit
    kind = planning.accelerator.kind.upper()
    if not options.wait:
        if len(kernels) > limit:
            raise KKError(f"{len(kernels)} kernels on {planning.accelerator.describe()}: Kaggle runs at most {limit} "
                          f"{kind} session(s) at once per account, so the rest would be refused",
                          hint=f"Add --wait (kk then pushes the rest as sessions end), or use --parallel {limit}.")
        reports = []
        for k in kernels:
            try:
                p = push_kernel(client, k, timeout=options.session_timeout)
            except KKError as exc:
                if not reports:
                    raise
                reports.append(_not_pushed(planning.kind, k, exc.message))
                continue
            report = KernelReport(planning.kind, p.ref, p.build_dir, p.version, KernelStatus.QUEUED, p.url)
            reports.append(report)
            progress.on_pushed(report)
        return PushReport(planning.kind, reports)
    t0 = time.monotonic()
    by_launch: dict[int, KernelReport] = {}

    def on_pushed(launch) -> None:
        p = launch.pushed
        report = KernelReport(planning.kind, p.ref, p.build_dir, p.version, KernelStatus.QUEUED, p.url)
        by_launch[id(launch)] = report
        progress.on_pushed(report)

    def on_states(states: dict[str, str]) -> None:
        for ref, status in states.items():
            progress.on_status(ref, status, time.monotonic() - t0)

    if len(kernels) > limit:
        progress.on_note(f"{len(kernels)} kernels, at most {limit} {kind} session(s) at once (Kaggle's limit per "
                         "account): the rest are pushed as sessions end")
    launches = run_within_limit(client, kernels, limit, poll=options.poll(client), timeout=options.timeout,
                                session_timeout=options.session_timeout, on_pushed=on_pushed, on_status=on_states,
                                on_note=progress.on_advice)
    reports, run_parts = [], []
    for launch in launches:
        if launch.pushed is None:
            reports.append(_not_pushed(planning.kind, launch.kernel, launch.error or "not pushed"))
            continue
        report = by_launch[id(launch)]
        reports.append(report)
        run_parts.append(_follow_one(client, report, launch.final, planning.accelerator, progress))
    result = PushReport(planning.kind, reports)
    if planning.kind is KernelKind.TRAIN:
        # Folds that finished are installed even when another part failed: they are never trained twice.
        _install(result, [p for p in run_parts if p is not None])
    return result


def _not_pushed(kind: KernelKind, kernel, message: str) -> KernelReport:
    return KernelReport(kind, kernel.ref, kernel.build_dir, status=NOT_PUSHED, failure_message=message)


def _follow_one(client, report: KernelReport, final, accelerator: Accelerator, progress: Progress) -> Path | None:
    """Fill `report` from a finished kernel's outputs; the run folder inside them (training)."""
    from kaggle_kit.kernels.push import accelerator_warning, fetch_outputs, kernel_run_dir

    report.followed = True
    report.status, report.failure_message = final.status, final.failure_message
    out = fetch_outputs(client, report.ref, report.version, report.build_dir / "output")
    report.output_dir = out.folder
    report.outputs = sorted(str(f.relative_to(out.folder)) for f in out.files)
    report.warning = accelerator_warning(accelerator, out.log)
    found = None
    if report.status == KernelStatus.COMPLETE:
        if report.kind is KernelKind.TRAIN:
            found = kernel_run_dir(out)
            if found is None:
                report.problem = f"{report.ref}: no run folder in its outputs ({out.folder})"
        else:
            sub = out.folder / "submission.csv"
            report.submission = sub if sub.is_file() else None
    progress.on_log_tail(report, out.tail(8 if report.status == KernelStatus.COMPLETE else 25))
    return found


def _install(result: PushReport, parts: list[Path]) -> None:
    from kaggle_kit.kernels.push import install_run
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs

    if not parts:
        return
    competition = str((runs.read_json(parts[0] / runs.RUN_FILE) or {}).get("competition"))
    data = resolve_competition(competition).data_dir
    target = install_run(parts, runs.runs_base(), competition_data=data)
    result.run_dir = target
    for k in result.kernels:
        k.run_dir = target
    result.folds_done = runs.done_folds(target)
    cv = (runs.read_json(target / runs.METRICS_FILE) or {}).get("cv_accuracy")
    result.cv_accuracy = cv if isinstance(cv, (int, float)) else None
    if len(parts) > 1 and not data.is_dir():
        result.data_missing = competition


# -- kk kernel-output ------------------------------------------------------------------------------------------------


@dataclass
class OutputReport:
    """A kernel version's outputs fetched into `path`, and the run folder installed from them (training)."""

    ref: str
    version: int | None
    status: str
    path: Path
    files: list[str]
    tail: list[str] = field(default_factory=list)
    run_dir: Path | None = None

    def to_json(self) -> dict:
        row = {"ref": self.ref, "version": self.version, "status": str(self.status), "path": str(self.path),
               "files": self.files}
        if self.run_dir is not None:
            row["run_dir"] = str(self.run_dir)
        return row


def fetch_kernel_output(client, ref: str, dest: Path | None = None, install: bool = True,
                        tail: int = 15) -> OutputReport:
    """Download kernel `ref`'s (OWNER/SLUG[/VERSION]) outputs into `dest` (default kernels/build/<slug>/output/);
    with `install`, a COMPLETE training kernel's run folder is copied into runs/."""
    from kaggle_kit.kaggle.types import split_ref
    from kaggle_kit.kernels.push import fetch_outputs, install_run, kernel_run_dir
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training import runs

    owner, slug, version = split_ref(ref, "kernel")
    dest = dest or build_root() / slug / "output"
    status = client.kernel_status(ref, version)
    out = fetch_outputs(client, f"{owner}/{slug}", version, dest)
    report = OutputReport(f"{owner}/{slug}", version, status.status, dest,
                          sorted(str(f.relative_to(dest)) for f in out.files), out.tail(tail))
    found = kernel_run_dir(out) if install and status.status == KernelStatus.COMPLETE else None
    if found is not None:
        competition = str((runs.read_json(found / runs.RUN_FILE) or {}).get("competition"))
        report.run_dir = install_run([found], runs.runs_base(), resolve_competition(competition).data_dir)
    return report
