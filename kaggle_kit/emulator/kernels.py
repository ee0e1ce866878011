"""Kernels: push (a new version each time), run in a local sandbox, status, log, outputs, pull (no HTTP here).

A kernel is `owner/slug` with numbered versions. `push()` stores the pushed code and settings as a new version
and, unless it is a QUICK_SAVE, queues a session that runs the code exactly as `kk run-kernel` does
(`kaggle_kit.kernels.sandbox.run_kernel`): competition, dataset and kernel sources mounted under the input root
(Kaggle's nested layout by default), internet cut unless the version enables it, a session timeout, and the
accelerator request written into the log (there is none here: the kernel runs on CPU and its strategy line
says so). At most `max_sessions` sessions run at once; the others read QUEUED.

Files live under `<state>/kernels/<owner>/<slug>/<version>/`: `code/<file>` (the pushed source),
`output/...` (the session's working folder), `log.json` (Kaggle's log format). Private kernels are visible to
their owner only. A session still QUEUED or RUNNING when the emulator stops reads ERROR after a restart.

A push arrives as a `SaveKernelRequest` (the API layer parses SaveKernel's wire JSON into it); a version keeps
its `KernelSettings` (the records are in `kernel_records.py`).

Example (`backend` an `EmulatorBackend`):

    request = SaveKernelRequest(slug="local/my-kernel", text="print(1)", new_title="my-kernel")
    k, v, invalid = backend.kernels.push("local", request)
    backend.kernels.wait(k, v.number).status  # KernelStatus.COMPLETE
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from kaggle_kit.accelerators import SESSION_LIMITS
from kaggle_kit.emulator.competitions import CompetitionsBackend, Submission
from kaggle_kit.emulator.core import (
    EmulatorError,
    EmulatorRoot,
    ServiceBackend,
    bad_request,
    check_slug,
    check_user_name,
    not_found,
)
from kaggle_kit.emulator.datasets import DatasetsBackend
from kaggle_kit.emulator.kernel_records import Kernel, KernelSettings, KernelVersion, SaveKernelRequest
from kaggle_kit.emulator.machines import resolve_machine
from kaggle_kit.emulator.notebooks import check_notebook, runner_script
from kaggle_kit.io import atomic_write_json, atomic_write_text
from kaggle_kit.profiles import KAGGLE
from kaggle_kit.status import KernelStatus

DEFAULT_TIMEOUT = 9 * 3600.0  # Kaggle's batch session limit (12 h CPU/GPU, 9 h TPU): the smaller one
SLUG_MIN = 5

class KernelsBackend(ServiceBackend):
    """The users' kernels: versions pushed, their sessions run in a local sandbox, their logs and outputs."""

    name = "kernels"

    def __init__(self, root: EmulatorRoot) -> None:
        super().__init__(root)
        self.kernels: dict[str, Kernel] = {}
        self.next_id = 5000
        self.max_sessions = 2
        self.session_limits = dict(SESSION_LIMITS)  # per account and accelerator, checked at push
        self.session_timeout = DEFAULT_TIMEOUT  # cap for every session (a push may ask for less)
        self.layout = "nested"  # where sources are mounted (see kaggle_kit.kernels.sandbox.input_mounts)
        self.weak_isolation = True  # without `unshare -n`, fall back to the audit-hook guard (and log it)
        self.image = KAGGLE  # the image profile sessions run under (`kk emulator serve --image`)
        self._slots: threading.BoundedSemaphore | None = None  # made at the first session from `max_sessions`
        self._live: dict[tuple[str, int], list[dict]] = {}
        self._threads: dict[tuple[str, int], threading.Thread] = {}
        self._cancel: dict[tuple[str, int], threading.Event] = {}
        self._closing = False

    # -- state -------------------------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {"next_id": self.next_id, "kernels": [asdict(k) for k in self.kernels.values()]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.next_id = state.get("next_id", self.next_id)
        self.kernels = {f"{k['owner']}/{k['slug']}": Kernel.from_dict(k) for k in state.get("kernels", [])}
        for k in self.kernels.values():
            for v in k.versions:
                if not v.status.finished:  # its session died with the previous emulator process
                    v.status = KernelStatus.ERROR
                    v.failure_message = "The emulator stopped while this session was running"

    @property
    def competitions(self) -> CompetitionsBackend:
        return self.root.service(CompetitionsBackend)

    @property
    def datasets(self) -> DatasetsBackend:
        return self.root.service(DatasetsBackend)

    def version_dir(self, kernel: Kernel, number: int) -> Path:
        return self.folder / kernel.owner / kernel.slug / str(number)

    # -- lookups -----------------------------------------------------------------------------------------------------

    def get(self, user: str | None, owner: str, slug: str) -> Kernel:
        k = self.kernels.get(f"{owner}/{slug}")
        if k is None or (k.is_private and k.owner != user):
            raise not_found(f"Kernel {owner}/{slug} not found")
        return k

    def get_by_id(self, user: str | None, kernel_id: int) -> Kernel:
        for k in self.kernels.values():
            if k.id == kernel_id and (not k.is_private or k.owner == user):
                return k
        raise not_found(f"Kernel with id {kernel_id} not found")

    def version(self, kernel: Kernel, label: str | int | None = None) -> KernelVersion:
        """Version `label` (`3`, `"v3"`, `"3"`), else the newest."""
        if label in (None, "", 0):
            return kernel.current
        try:
            number = int(str(label).lstrip("vV"))
        except ValueError:
            raise bad_request(f"Invalid version label {label!r}: expected e.g. v3") from None
        for v in kernel.versions:
            if v.number == number:
                return v
        raise not_found(f"Kernel {kernel.ref} has no version {number}")

    def list(self, user: str | None, owner: str | None = None, search: str = "", mine: bool = False) -> list[Kernel]:
        needle = search.lower().strip()
        out = [k for k in self.kernels.values() if not k.is_private or k.owner == user]
        if mine:
            out = [k for k in out if k.owner == user]
        if owner:
            out = [k for k in out if k.owner == owner]
        if needle:
            out = [k for k in out if needle in k.slug.lower() or needle in k.title.lower()]
        return sorted(out, key=lambda k: k.current.created, reverse=True)

    def code_path(self, kernel: Kernel, v: KernelVersion) -> Path:
        return self.version_dir(kernel, v.number) / "code" / v.code_file

    def runner_path(self, kernel: Kernel, v: KernelVersion) -> Path:
        """What the sandbox runs: the code file itself, or for a notebook its cell-by-cell runner."""
        if v.settings.kernel_type != "notebook":
            return self.code_path(kernel, v)
        return self.version_dir(kernel, v.number) / "runner" / f"{kernel.slug}.py"

    def _check_session_limit(self, user: str, accelerator: str) -> None:
        """400 with Kaggle's text when `user` already holds the most sessions of this accelerator."""
        limit = self.session_limits.get(accelerator)
        if limit is None:
            return
        held = sum(1 for k in self.kernels.values() if k.owner == user for v in k.versions
                   if v.execution == "RUN" and v.accelerator == accelerator and not v.status.finished)
        if held >= limit:
            raise bad_request(f"Maximum batch {accelerator.upper()} session count of {limit} reached.")

    def source(self, kernel: Kernel, v: KernelVersion) -> str:
        return self.code_path(kernel, v).read_text()

    def output_files(self, kernel: Kernel, v: KernelVersion) -> list[tuple[str, Path]]:
        base = self.version_dir(kernel, v.number) / "output"
        return [(name, base / name) for name in v.outputs if (base / name).is_file()]

    def log(self, kernel: Kernel, v: KernelVersion) -> list[dict]:
        """The session's log so far (live while it runs), Kaggle's format."""
        live = self._live.get((kernel.ref, v.number))
        if live is not None:
            return list(live)
        path = self.version_dir(kernel, v.number) / "log.json"
        return json.loads(path.read_text()) if path.is_file() else []

    # -- push --------------------------------------------------------------------------------------------------------

    def _check_sources(self, user: str, settings: KernelSettings) -> dict[str, list[str]]:
        invalid: dict[str, list[str]] = {"competition": [], "dataset": [], "kernel": []}
        for slug in settings.competition_data_sources:
            # Kaggle attaches a competition's data only for a user who accepted its rules.
            if slug not in self.competitions.competitions or not self.competitions.has_accepted(user, slug):
                invalid["competition"].append(slug)
        for ref in settings.dataset_data_sources:
            owner, _, slug = str(ref).partition("/")
            try:
                self.datasets.get(user, owner, slug)
            except EmulatorError:
                invalid["dataset"].append(ref)
        for ref in settings.kernel_data_sources:
            owner, _, slug = str(ref).partition("/")
            try:
                self.get(user, owner, slug)
            except EmulatorError:
                invalid["kernel"].append(ref)
        return invalid

    def push(self, user: str, request: SaveKernelRequest) -> tuple[Kernel, KernelVersion, dict[str, list[str]]]:
        """A new version of `request`'s kernel; queues its session unless `request.quick_save`.

        Returns `(kernel, version, invalid sources)`; invalid sources are left out of the run, as Kaggle does.
        """
        if request.id and not request.slug:
            kernel = self.get_by_id(user, request.id)
            owner, slug = kernel.owner, kernel.slug
        else:
            owner, _, slug = request.slug.partition("/")
            if not slug:
                owner, slug = user, owner
        if owner != user:
            raise EmulatorError(403, f"You can only push kernels under your own account ({user!r}), not {owner!r}")
        check_user_name(owner)
        if len(slug) < SLUG_MIN:
            raise bad_request(f"Kernel slug {slug!r} is too short (at least {SLUG_MIN} characters)")
        check_slug("kernel", slug, SLUG_MIN)  # owner/slug become folders under --state
        pushed = request.settings
        if pushed.language != "python":
            raise bad_request(f"The emulator runs python kernels only, not {pushed.language!r}")
        if pushed.kernel_type not in ("script", "notebook"):
            raise bad_request(f"Invalid kernelType {pushed.kernel_type!r}: script or notebook")
        if not request.text.strip():
            raise bad_request("The kernel has no code (text is empty)")
        if pushed.kernel_type == "notebook":
            check_notebook(request.text)
        accelerator, machine_shape, _ = resolve_machine(pushed)
        invalid = self._check_sources(user, pushed)
        settings = replace(
            pushed,
            competition_data_sources=[s for s in pushed.competition_data_sources if s not in invalid["competition"]],
            dataset_data_sources=[s for s in pushed.dataset_data_sources if s not in invalid["dataset"]],
            kernel_data_sources=[s for s in pushed.kernel_data_sources if s not in invalid["kernel"]])
        execution = "QUICK_SAVE" if request.quick_save else "RUN"
        with self.root.lock:
            if execution == "RUN":
                self._check_session_limit(user, accelerator)
            now = self.now()
            kernel = self.kernels.get(f"{owner}/{slug}")
            title = request.new_title or (kernel.title if kernel else slug)
            if kernel is None:
                kernel = Kernel(self.next_id, owner, slug, title, settings.is_private, now)
                self.next_id += 1
                self.kernels[kernel.ref] = kernel
            kernel.title, kernel.is_private = title, settings.is_private
            number = kernel.versions[-1].number + 1 if kernel.versions else 1
            ext = ".ipynb" if settings.kernel_type == "notebook" else ".py"
            v = KernelVersion(number, now, title, f"{slug}{ext}", settings, execution, accelerator=accelerator,
                              machine_shape=machine_shape)
            atomic_write_text(self.code_path(kernel, v), request.text)
            if settings.kernel_type == "notebook":
                atomic_write_text(self.runner_path(kernel, v), runner_script(request.text))
            if execution == "QUICK_SAVE":
                v.status = KernelStatus.COMPLETE
                v.finished = now
                atomic_write_json(self.version_dir(kernel, number) / "log.json", [
                    {"stream_name": "stdout", "time": 0.0, "data": "[kk emulator] saved without running (QUICK_SAVE)\n"}])
            kernel.versions.append(v)
            self.save()
        if execution == "RUN":
            self._start(kernel, v)
        return kernel, v, invalid

    # -- sessions ----------------------------------------------------------------------------------------------------

    def _start(self, kernel: Kernel, v: KernelVersion) -> None:
        key = (kernel.ref, v.number)
        self._live[key] = []
        self._cancel[key] = threading.Event()
        thread = threading.Thread(target=self._session, args=(kernel, v), name=f"kernel-{kernel.ref}-v{v.number}",
                                  daemon=True)
        self._threads[key] = thread
        thread.start()

    def _mounts(self, kernel: Kernel, v: KernelVersion) -> list:
        from kaggle_kit.kernels.mounts import input_mounts

        s = v.settings
        comps = {slug: self.competitions.get(slug).data_dir for slug in s.competition_data_sources}
        datasets = {}
        for ref in s.dataset_data_sources:
            owner, _, slug = ref.partition("/")
            ds = self.datasets.get(kernel.owner, owner, slug)
            current = ds.current
            datasets[ref] = self.datasets.file_path(ds, current, current.files[0].name).parent
        kernels = {}
        for ref in s.kernel_data_sources:
            owner, _, slug = ref.partition("/")
            src = self.get(kernel.owner, owner, slug)
            done = [x for x in src.versions if x.status is KernelStatus.COMPLETE and x.execution == "RUN"]
            if done:
                folder = self.version_dir(src, done[-1].number) / "output"
                folder.mkdir(parents=True, exist_ok=True)
                kernels[ref] = folder
        return input_mounts(comps, datasets, kernels, layout=self.layout)

    def _session(self, kernel: Kernel, v: KernelVersion) -> None:
        from kaggle_kit.kernels.local import image_settings
        from kaggle_kit.kernels.sandbox import run_kernel

        key = (kernel.ref, v.number)
        live = self._live[key]
        cancel = self._cancel[key]
        with self.root.lock:
            if self._slots is None:
                self._slots = threading.BoundedSemaphore(max(1, int(self.max_sessions)))
        with self._slots:
            if self._closing or cancel.is_set():
                with self.root.lock:
                    v.status = KernelStatus.CANCEL_ACKNOWLEDGED if not self._closing else KernelStatus.ERROR
                    v.failure_message = "Cancelled before it started" if not self._closing else \
                        "The emulator stopped before this session started"
                    self._live.pop(key, None)
                    self.save()
                return
            with self.root.lock:
                v.status, v.started = KernelStatus.RUNNING, self.now()
                self.save()
            s = v.settings
            timeout = min(float(s.session_timeout_seconds or self.session_timeout), self.session_timeout)
            accelerator = v.accelerator
            notes = [f"kaggle emulator session for {kernel.ref} version {v.number} (timeout {timeout:g} s)"]
            shape_warning = resolve_machine(s)[2]
            if shape_warning:
                notes.append(f"Warning: {shape_warning}")
            if accelerator == "cpu" and s.machine_shape and not shape_warning:
                notes.append(f"machine shape {s.machine_shape} requested without enable_gpu/enable_tpu: CPU session")
            try:
                # Built once per profile into the user cache; a session waiting for the build shows it in its log.
                python_path, env, image_notes = image_settings(
                    self.image, accelerator, progress=lambda line: live.append(
                        {"stream_name": "stdout", "time": 0.0, "data": f"[kk emulator] {line}\n"}))
                result = run_kernel(self.runner_path(kernel, v), self.version_dir(kernel, v.number) / "output",
                                    mounts=self._mounts(kernel, v), internet=s.enable_internet, timeout=timeout,
                                    accelerator=accelerator, machine_shape=v.machine_shape,
                                    weak_isolation=self.weak_isolation, on_line=live.append,
                                    notes=notes + image_notes, python_path=python_path, env=env,
                                    cancel=cancel, hide=[p for p in (self.root.state_dir, self.root.store_dir) if p])
                status, failure, outputs, isolation = (KernelStatus(result.status), result.failure_message,
                                                       result.outputs, result.isolation)
            except Exception as exc:  # noqa: BLE001 - whatever stops a session is the session's failure
                live.append({"stream_name": "stderr", "time": 0.0, "data": f"[kk emulator] {exc}\n"})
                status, failure, outputs, isolation = KernelStatus.ERROR, str(exc), [], None
            if cancel.is_set() and status is KernelStatus.ERROR:
                status = KernelStatus.ERROR if self._closing else KernelStatus.CANCEL_ACKNOWLEDGED
                failure = "The emulator stopped during this session" if self._closing else "Cancelled by its owner"
            atomic_write_json(self.version_dir(kernel, v.number) / "log.json", list(live))
            with self.root.lock:
                v.status, v.failure_message, v.outputs, v.isolation = status, failure, outputs, isolation
                v.finished = self.now()
                self._live.pop(key, None)
                self.save()

    def wait(self, kernel: Kernel, number: int, timeout: float | None = None) -> KernelVersion:
        """Block until version `number`'s session is over (for tests and the demo)."""
        thread = self._threads.get((kernel.ref, number))
        if thread is not None:
            thread.join(timeout)
        return self.version(kernel, number)

    def submit_output(self, user: str, competition: str, kernel: Kernel, label: str | int | None = None,
                      file_name: str = "submission.csv", description: str = "") -> Submission:
        """Submit output `file_name` of version `label` (required) to `competition` (CreateCodeSubmission).

        Only the owner's version of a code competition that ran to COMPLETE with `competition` among its sources can be submitted; the file is
        then scored like an uploaded one.
        """
        if label in (None, "", 0):
            # The official client refuses to send one without the other; the server does not guess "newest".
            raise bad_request("Code competition submissions require both the kernel name and the version number")
        comps = self.competitions
        comp = comps.require_rules(user, competition, "submit")
        if not comp.code_competition:
            raise bad_request(f"Competition {competition!r} is not a code competition: it takes uploaded files "
                              "(kaggle competitions submit -f FILE), not notebook outputs")
        if kernel.owner != user:
            raise EmulatorError(403, f"You can only submit your own notebooks, not {kernel.ref}")
        v = self.version(kernel, label)
        if v.status is not KernelStatus.COMPLETE or v.execution != "RUN":
            raise bad_request(f"Kernel {kernel.ref} version {v.number} has status {v.status}"
                              + (" (saved without running)" if v.execution != "RUN" else "")
                              + ": only a successfully run version can be submitted")
        if competition not in v.settings.competition_data_sources:
            raise bad_request(f"Kernel {kernel.ref} version {v.number} does not use competition {competition!r} "
                              "as a data source")
        path = dict(self.output_files(kernel, v)).get(file_name)
        if path is None:
            raise not_found(f"Kernel {kernel.ref} version {v.number} has no output file {file_name!r} "
                            f"(outputs: {', '.join(v.outputs) or 'none'})")
        data = path.read_bytes()
        upload = comps.blobs.start_upload(user, f"submission:{competition}", path.name, len(data))
        comps.blobs.write(upload.token, [data])
        return comps.create_submission(user, competition, upload.token,
                                       description or f"{kernel.ref} version {v.number}")

    def cancel(self, user: str, kernel: Kernel, number: int | None = None) -> KernelVersion:
        """Stop a queued or running session (its kernel process group is killed)."""
        if kernel.owner != user:
            raise EmulatorError(403, f"You do not have permission to cancel {kernel.ref}")
        v = self.version(kernel, number)
        event = self._cancel.get((kernel.ref, v.number))
        if not v.status.finished and event is not None:
            event.set()
            with self.root.lock:
                v.status = KernelStatus.CANCEL_REQUESTED
        return v

    def close(self, timeout: float = 15.0) -> None:
        """Kill running sessions, keep queued ones from starting, and wait for their threads (server stop)."""
        self._closing = True
        for event in list(self._cancel.values()):
            event.set()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
