"""Kernels: push (a new version each time), run in a local sandbox, status, log, outputs, pull (no HTTP here).

A kernel is `owner/slug` with numbered versions. `save()` stores the pushed code and settings as a new version
and, unless it is a QUICK_SAVE, queues a session that runs the code exactly as `kk run-kernel` does
(`kaggle_kit.kernels.sandbox.run_kernel`): competition, dataset and kernel sources mounted under the input root
(Kaggle's nested layout by default), internet cut unless the version enables it, a session timeout, and the
accelerator request written into the log (there is none here: the kernel runs on CPU and its strategy line
says so). At most `max_sessions` sessions run at once; the others read QUEUED.

Files live under `<state>/kernels/<owner>/<slug>/<version>/`: `code/<file>` (the pushed source),
`output/...` (the session's working folder), `log.json` (Kaggle's log format). Private kernels are visible to
their owner only. A session still QUEUED or RUNNING when the emulator stops reads ERROR after a restart.

Example:
    >>> k, v, invalid = backend.kernels.push("local", {"slug": "local/my-kernel", "newTitle": "my-kernel",
    ...                                                "text": "print(1)", "language": "python",
    ...                                                "kernelType": "script"})
    >>> backend.kernels.wait(k, v.number).status
    'COMPLETE'
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kaggle_kit.emulator.core import EmulatorError, ServiceBackend, bad_request, not_found
from kaggle_kit.io import atomic_write_json, atomic_write_text

DONE = ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED")
DEFAULT_TIMEOUT = 9 * 3600.0  # Kaggle's batch session limit (12 h CPU/GPU, 9 h TPU): the smaller one
SLUG_MIN = 5


@dataclass
class KernelVersion:
    number: int
    created: float
    title: str
    code_file: str
    settings: dict[str, Any]  # the SaveKernel fields that decide a run (sources, switches, shape, timeout)
    execution: str = "RUN"  # "RUN" | "QUICK_SAVE"
    status: str = "QUEUED"
    failure_message: str | None = None
    started: float | None = None
    finished: float | None = None
    outputs: list[str] = field(default_factory=list)
    isolation: str | None = None


@dataclass
class Kernel:
    id: int
    owner: str
    slug: str
    title: str
    is_private: bool
    created: float
    versions: list[KernelVersion] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/code/{self.ref}"

    @property
    def current(self) -> KernelVersion:
        return self.versions[-1]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Kernel:
        return cls(**{**d, "versions": [KernelVersion(**v) for v in d["versions"]]})


def notebook_to_script(text: str) -> str:
    """A notebook's code cells as one script (shell `!` and `%` magic lines commented out)."""
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise bad_request(f"kernelType notebook: text is not notebook JSON ({exc})") from None
    parts = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        lines = [f"# {line}" if line.lstrip().startswith(("!", "%")) else line for line in source.splitlines()]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


class KernelsBackend(ServiceBackend):
    name = "kernels"

    def __init__(self, root) -> None:
        super().__init__(root)
        self.kernels: dict[str, Kernel] = {}
        self.next_id = 5000
        self.max_sessions = 2
        self.session_timeout = DEFAULT_TIMEOUT  # cap for every session (a push may ask for less)
        self.layout = "nested"  # where sources are mounted (see kaggle_kit.kernels.sandbox.input_mounts)
        self.weak_isolation = True  # without `unshare -n`, fall back to the audit-hook guard (and log it)
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
                if v.status not in DONE:  # its session died with the previous emulator process
                    v.status, v.failure_message = "ERROR", "The emulator stopped while this session was running"

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

    def _check_sources(self, user: str, body: dict) -> dict[str, list[str]]:
        invalid: dict[str, list[str]] = {"competition": [], "dataset": [], "kernel": []}
        for slug in body.get("competitionDataSources") or []:
            if slug not in self.root.competitions.competitions:
                invalid["competition"].append(slug)
        for ref in body.get("datasetDataSources") or []:
            owner, _, slug = str(ref).partition("/")
            try:
                self.root.datasets.get(user, owner, slug)
            except EmulatorError:
                invalid["dataset"].append(ref)
        for ref in body.get("kernelDataSources") or []:
            owner, _, slug = str(ref).partition("/")
            try:
                self.get(user, owner, slug)
            except EmulatorError:
                invalid["kernel"].append(ref)
        return invalid

    def push(self, user: str, body: dict) -> tuple[Kernel, KernelVersion, dict[str, list[str]]]:
        """A new version from a SaveKernel body; queues its session unless `kernelExecutionType` is QUICK_SAVE.

        Returns `(kernel, version, invalid sources)`; invalid sources are left out of the run, as Kaggle does.
        """
        ref = str(body.get("slug") or "")
        if body.get("id") and not ref:
            kernel = self.get_by_id(user, int(body["id"]))
            owner, slug = kernel.owner, kernel.slug
        else:
            owner, _, slug = ref.partition("/")
            if not slug:
                owner, slug = user, owner
        if owner != user:
            raise EmulatorError(403, f"You can only push kernels under your own account ({user!r}), not {owner!r}")
        if len(slug) < SLUG_MIN:
            raise bad_request(f"Kernel slug {slug!r} is too short (at least {SLUG_MIN} characters)")
        language = body.get("language") or "python"
        if language != "python":
            raise bad_request(f"The emulator runs python kernels only, not {language!r}")
        kernel_type = body.get("kernelType") or "script"
        text = body.get("text") or ""
        if not text.strip():
            raise bad_request("The kernel has no code (text is empty)")
        script = notebook_to_script(text) if kernel_type == "notebook" else text
        invalid = self._check_sources(user, body)
        settings = {
            "language": language, "kernelType": kernel_type,
            "isPrivate": bool(body.get("isPrivate", True)),
            "enableGpu": bool(body.get("enableGpu")), "enableTpu": bool(body.get("enableTpu")),
            "enableInternet": bool(body.get("enableInternet")),
            "machineShape": body.get("machineShape") or None,
            "competitionDataSources": [s for s in body.get("competitionDataSources") or []
                                       if s not in invalid["competition"]],
            "datasetDataSources": [s for s in body.get("datasetDataSources") or [] if s not in invalid["dataset"]],
            "kernelDataSources": [s for s in body.get("kernelDataSources") or [] if s not in invalid["kernel"]],
            "modelDataSources": list(body.get("modelDataSources") or []),
            "categoryIds": list(body.get("categoryIds") or []),
            "dockerImage": body.get("dockerImage") or None,
            "sessionTimeoutSeconds": int(body["sessionTimeoutSeconds"]) if body.get("sessionTimeoutSeconds") else None,
        }
        execution = "QUICK_SAVE" if body.get("kernelExecutionType") == "QUICK_SAVE" else "RUN"
        with self.root.lock:
            now = self.now()
            kernel = self.kernels.get(f"{owner}/{slug}")
            title = str(body.get("newTitle") or (kernel.title if kernel else slug))
            if kernel is None:
                kernel = Kernel(self.next_id, owner, slug, title, settings["isPrivate"], now)
                self.next_id += 1
                self.kernels[kernel.ref] = kernel
            kernel.title, kernel.is_private = title, settings["isPrivate"]
            number = kernel.versions[-1].number + 1 if kernel.versions else 1
            v = KernelVersion(number, now, title, f"{slug}.py", settings, execution)
            atomic_write_text(self.code_path(kernel, v), script)
            if execution == "QUICK_SAVE":
                v.status = "COMPLETE"
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
        from kaggle_kit.kernels.sandbox import input_mounts

        s = v.settings
        comps = {slug: self.root.competitions.get(slug).data_dir for slug in s["competitionDataSources"]}
        datasets = {}
        for ref in s["datasetDataSources"]:
            owner, _, slug = ref.partition("/")
            ds = self.root.datasets.get(kernel.owner, owner, slug)
            current = ds.current
            datasets[ref] = self.root.datasets.file_path(ds, current, current.files[0].name).parent
        kernels = {}
        for ref in s["kernelDataSources"]:
            owner, _, slug = ref.partition("/")
            src = self.get(kernel.owner, owner, slug)
            done = [x for x in src.versions if x.status == "COMPLETE" and x.execution == "RUN"]
            if done:
                folder = self.version_dir(src, done[-1].number) / "output"
                folder.mkdir(parents=True, exist_ok=True)
                kernels[ref] = folder
        return input_mounts(comps, datasets, kernels, layout=self.layout)

    def _session(self, kernel: Kernel, v: KernelVersion) -> None:
        from kaggle_kit.accelerators import Accelerator
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
                    v.status = "CANCEL_ACKNOWLEDGED" if not self._closing else "ERROR"
                    v.failure_message = "Cancelled before it started" if not self._closing else \
                        "The emulator stopped before this session started"
                    self._live.pop(key, None)
                    self.save()
                return
            with self.root.lock:
                v.status, v.started = "RUNNING", self.now()
                self.save()
            s = v.settings
            timeout = min(float(s["sessionTimeoutSeconds"] or self.session_timeout), self.session_timeout)
            accelerator = Accelerator.from_switches(s["enableGpu"], s["enableTpu"], s["machineShape"]).kind
            notes = [f"kaggle emulator session for {kernel.ref} version {v.number} (timeout {timeout:g} s)"]
            if accelerator == "cpu" and s["machineShape"]:
                notes.append(f"machine shape {s['machineShape']} requested without enable_gpu/enable_tpu: CPU session")
            try:
                result = run_kernel(self.code_path(kernel, v), self.version_dir(kernel, v.number) / "output",
                                    mounts=self._mounts(kernel, v), internet=s["enableInternet"], timeout=timeout,
                                    accelerator=accelerator, machine_shape=s["machineShape"],
                                    weak_isolation=self.weak_isolation, on_line=live.append, notes=notes,
                                    cancel=cancel)
                status, failure, outputs, isolation = (result.status, result.failure_message, result.outputs,
                                                       result.isolation)
            except Exception as exc:  # noqa: BLE001 - whatever stops a session is the session's failure
                live.append({"stream_name": "stderr", "time": 0.0, "data": f"[kk emulator] {exc}\n"})
                status, failure, outputs, isolation = "ERROR", str(exc), [], None
            if cancel.is_set() and status == "ERROR":
                status = "ERROR" if self._closing else "CANCEL_ACKNOWLEDGED"
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

    def cancel(self, user: str, kernel: Kernel, number: int | None = None) -> KernelVersion:
        """Stop a queued or running session (its kernel process group is killed)."""
        if kernel.owner != user:
            raise EmulatorError(403, f"You do not have permission to cancel {kernel.ref}")
        v = self.version(kernel, number)
        event = self._cancel.get((kernel.ref, v.number))
        if v.status not in DONE and event is not None:
            event.set()
            with self.root.lock:
                v.status = "CANCEL_REQUESTED"
        return v

    def close(self, timeout: float = 15.0) -> None:
        """Kill running sessions, keep queued ones from starting, and wait for their threads (server stop)."""
        self._closing = True
        for event in list(self._cancel.values()):
            event.set()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
