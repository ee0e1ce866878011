"""Run a kernel here the way Kaggle runs it: one code file, read-only-style inputs, a fresh working folder, a
clean environment, no internet unless asked for, a session timeout, and a Kaggle-format log.

`kk run-kernel` and the emulator's kernel sessions both call `run_kernel`, so "it works in the emulator" and
"it works with run-kernel" mean the same thing. What the kernel sees:

- **Python**: this interpreter started with `-S` and a `PYTHONPATH` of links to this environment's
  site-packages *minus* what Kaggle's image lacks or a kernel must not use (kaggle_kit itself, typer, click,
  flask, werkzeug, tomli_w, the kaggle client). A kernel that works here therefore imports its embedded
  kaggle_kit, not the installed one, and needs nothing from the command line's stack.
- **Inputs** under `$KK_KAGGLE_INPUT` (a temporary folder): each `Mount` (see `mounts`) mirrors a source folder there as real
  folders holding links to the files (so a cache written beside the data lands in the temporary folder).
- **Working folder** `$KK_KAGGLE_WORKING` (also the current folder), copied back to `output_dir` at the end.
- **Environment**: built from scratch (no `KAGGLE_*` credentials, no proxies); no GPU unless the kernel asked for
  one (`CUDA_VISIBLE_DEVICES=""`), no TPU probing unless it asked for a TPU.
- **Network**: with internet off the kernel runs in a new network namespace (`unshare -n`: not even loopback
  works). Where that is impossible (no root/user namespaces) `run_kernel` refuses, unless `weak_isolation` is
  allowed: then a Python audit hook blocks socket connects and DNS in the kernel's own process (subprocesses
  are not covered), and the log says so.
- **Log**: a list of `{"stream_name": "stdout"|"stderr", "time": seconds, "data": line}`, Kaggle's format.

Example (needs a rendered kernel and its inputs, so a plain code block):

    result = run_kernel("kernels/build/digit-recognizer-kk-inference/digit-recognizer-kk-inference.py",
                        mounts=[Mount("datasets/digit-recognizer", "competitions/digit-recognizer")],
                        output_dir="kernels/build/digit-recognizer-kk-inference/output", internet=False)
    result.status, result.outputs   # ('COMPLETE', ['kk-result.json', 'submission.csv', ...])
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.kernels.isolation import INSTALL_HINT, bwrap_available, bwrap_prefix
from kaggle_kit.kernels.mounts import Mount
from kaggle_kit.kernels.runtime import INPUT_ENV, WORKING_ENV
from kaggle_kit.status import KernelStatus

# Distributions a kernel must run without (Kaggle's image lacks them, or kernels must not use them).
HIDDEN_DISTRIBUTIONS = ("kaggle-kit", "typer", "click", "shellingham", "flask", "werkzeug", "itsdangerous",
                        "blinker", "tomli-w", "kaggle", "kagglesdk")
# Environment variables passed through to a kernel (device and threading knobs only; never credentials).
PASS_ENV_PREFIXES = ("OMP_", "TF_", "XLA_", "CUDA_", "NVIDIA_", "LD_LIBRARY_PATH", "MKL_", "OPENBLAS_")
LOG_TAIL = 25


class SandboxError(KKError):
    """The kernel cannot be run as asked (e.g. internet must be cut and this machine cannot cut it)."""


@dataclass
class SandboxResult:
    """How a kernel run ended: status COMPLETE or ERROR, its log (Kaggle format), and the outputs copied back."""

    status: KernelStatus
    returncode: int | None
    failure_message: str | None
    log: list[dict]
    output_dir: Path
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    isolation: str = "none"

    def log_tail(self, n: int = LOG_TAIL) -> list[str]:
        return log_tail(self.log, n)


def log_tail(log: list[dict], n: int = LOG_TAIL) -> list[str]:
    """The last `n` lines of a Kaggle-format log (entries may hold several lines or partial ones)."""
    text = "".join(str(e.get("data", "")) for e in log)
    return text.splitlines()[-n:]


# -- the kernel's Python ---------------------------------------------------------------------------------------------


def _hidden_top_levels() -> set[str]:
    import importlib.metadata as md

    hidden: set[str] = set()
    for dist in md.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name in HIDDEN_DISTRIBUTIONS:
            for f in dist.files or []:
                if f.parts and f.parts[0] not in ("..", "."):
                    hidden.add(f.parts[0])
    return hidden


def _site_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    out = []
    for key in ("purelib", "platlib"):
        p = Path(paths[key])
        if p.is_dir() and p not in out:
            out.append(p)
    return out


@lru_cache(maxsize=1)
def _hidden_cached() -> frozenset[str]:
    return frozenset(_hidden_top_levels())


def kernel_site_dir() -> Path:
    """A folder of links to this environment's site-packages without the hidden distributions (built once).

    It lives in the temp folder under a name derived from what it holds (the site-packages it mirrors and the
    entries it links), so concurrent kernels share it, and environments that hide other distributions get their
    own instead of rebuilding each other's.
    """
    sites = _site_dirs()
    hidden = _hidden_cached()
    wanted = {}
    for site in sites:
        for entry in site.iterdir():
            if entry.name in hidden or entry.suffix == ".pth" or entry.name.startswith("__editable__") \
                    or entry.name == "__pycache__" or entry.name in wanted:
                continue
            wanted[entry.name] = entry
    content = "|".join(map(str, sites)) + sys.version + "|".join(sorted(wanted))
    target = Path(tempfile.gettempdir()) / f"kk-kernel-site-{hashlib.sha256(content.encode()).hexdigest()[:12]}"
    # Another process (a second kk, a pytest-xdist worker) or thread (the emulator's parallel sessions) may be
    # building it or running a kernel through it: build under an exclusive flock (each call opens the file, so
    # threads exclude each other too), and never swap out a folder that already holds the right links (a kernel
    # importing through it would find it gone for a moment).
    with open(target.parent / f".{target.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_dir() and {p.name for p in target.iterdir()} == set(wanted):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        for name, entry in wanted.items():
            (tmp / name).symlink_to(entry)
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(target, old)
        except FileNotFoundError:
            pass
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race; theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


# -- network isolation -----------------------------------------------------------------------------------------------

_GUARD = """
import sys
def _kk_no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.sendmsg"):
        raise OSError(101, "Network is unreachable (internet is off for this kernel; kk weak isolation)")
sys.addaudithook(_kk_no_network)
import runpy
sys.argv = [sys.argv[1]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@lru_cache(maxsize=1)
def netns_available() -> bool:
    """Whether `unshare -n` works here (root, or unprivileged user namespaces)."""
    exe = shutil.which("unshare")
    if not exe:
        return False
    for cmd in ([exe, "-n", "true"], [exe, "-r", "-n", "true"]):
        try:
            if subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0:
                return True
        except (OSError, subprocess.TimeoutExpired):
            continue
    return False


def _netns_prefix() -> list[str]:
    exe = shutil.which("unshare") or "unshare"
    if subprocess.run([exe, "-n", "true"], capture_output=True).returncode == 0:
        return [exe, "-n"]
    return [exe, "-r", "-n"]  # as an unprivileged user: map ourselves to root inside a user namespace


def isolation_for(internet: bool, weak_isolation: bool = False) -> str:
    """`none` (internet on), `netns` (unshare -n), or `guard` (audit hook; only when `weak_isolation`)."""
    if internet:
        return "none"
    if netns_available():
        return "netns"
    if weak_isolation:
        return "guard"
    raise SandboxError(
        "internet is off for this kernel but this machine cannot cut a process's network: `unshare -n` is not "
        "available (it needs root or unprivileged user namespaces)",
        hint="Run as root / enable user namespaces, or accept a weaker, Python-level block with "
             "--allow-weak-isolation (it does not cover subprocesses).")


# -- running ---------------------------------------------------------------------------------------------------------


def _mirror(source: Path, target: Path) -> None:
    """Real folders, linked files: the kernel reads the source's files, writes land in the temporary tree."""
    if not source.is_dir():
        raise SandboxError(f"input {source} is not a folder")
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part.startswith(".kk-cache") for part in rel.parts):
            continue  # the host's own data cache is not part of the data
        dest = target / rel
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(path.resolve())
    target.mkdir(parents=True, exist_ok=True)


def kernel_env(root: Path, internet: bool, accelerator: str = "cpu", extra: dict | None = None) -> dict[str, str]:
    """The kernel's whole environment (nothing inherited but device/threading knobs)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root / "home"),
        "TMPDIR": str(root / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(kernel_site_dir()),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        INPUT_ENV: str(root / "input"),
        WORKING_ENV: str(root / "working"),
        "KAGGLE_KERNEL_RUN_TYPE": "Batch",
        "MPLBACKEND": "Agg",
    }
    for name, value in os.environ.items():
        if name.startswith(PASS_ENV_PREFIXES):
            env[name] = value
    if accelerator != "gpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU or TPU session has no GPU
    if accelerator != "tpu":
        env["KK_NO_TPU"] = "1"  # nor a TPU: skip the resolver's probing
    env.update(extra or {})
    return env


def _reader(stream, name: str, t0: float, log: list[dict], lock: threading.Lock,
            on_line: Callable[[dict], None] | None) -> None:
    for line in iter(stream.readline, ""):
        entry = {"stream_name": name, "time": round(time.monotonic() - t0, 3), "data": line}
        with lock:
            log.append(entry)
        if on_line:
            on_line(entry)
    stream.close()


def _copy_outputs(working: Path, output_dir: Path) -> list[str]:
    out = []
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(working.rglob("*")):
        rel = path.relative_to(working)
        if path.is_symlink() or not path.is_file() or "__pycache__" in rel.parts:
            continue
        dest = output_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        out.append(rel.as_posix())
    return out


def _failure(returncode: int, log: list[dict]) -> str:
    errors = [e["data"].strip() for e in log if e["stream_name"] == "stderr" and e["data"].strip()]
    last = next((line for line in reversed(errors) if not line.startswith(("I0000", "W0000", "E0000"))), "")
    return f"Kernel exited with code {returncode}" + (f": {last[:500]}" if last else "")


def run_kernel(code_file: str | Path, output_dir: str | Path, mounts: list[Mount] | None = None,
               internet: bool = False, timeout: float | None = None, accelerator: str = "cpu",
               machine_shape: str | None = None, weak_isolation: bool = False,
               on_line: Callable[[dict], None] | None = None, notes: list[str] | None = None,
               cancel: threading.Event | None = None, keep_root: bool = False,
               hide: list[Path] = (), python_path: list[str | Path] | None = None,
               env: dict[str, str] | None = None) -> SandboxResult:
    """Run `code_file` as a kernel; its working folder ends up in `output_dir`. Never raises for a failing
    kernel (that is `status == "ERROR"`); raises `SandboxError` when it cannot run it as asked.

    With bubblewrap installed the kernel sees only its inputs (read-only), its own folders and Python
    (`kaggle_kit.kernels.isolation`); `hide` names more folders to cover (the emulator's store and state).
    `python_path`: folders put before this environment's libraries (an image profile's packages, e.g. Kaggle's
    older Keras); `env`: extra environment variables (a profile's simulated devices)."""
    code_file = Path(code_file).resolve()
    if not code_file.is_file():
        raise SandboxError(f"{code_file}: kernel code file not found")
    output_dir = Path(output_dir)
    isolation = isolation_for(internet, weak_isolation)
    root = Path(tempfile.mkdtemp(prefix="kk-kernel-"))
    log: list[dict] = []
    lock = threading.Lock()
    t0 = time.monotonic()

    def note(text: str) -> None:
        entry = {"stream_name": "stdout", "time": round(time.monotonic() - t0, 3), "data": f"[kk sandbox] {text}\n"}
        log.append(entry)
        if on_line:
            on_line(entry)

    try:
        for sub in ("input", "working", "home", "tmp", "src"):
            (root / sub).mkdir()
        for m in mounts or []:
            _mirror(Path(m.source), root / "input" / m.target)
        script = root / "src" / code_file.name
        shutil.copyfile(code_file, script)
        for text in notes or []:
            note(text)
        if accelerator in ("gpu", "tpu"):
            note(f"accelerator requested: {accelerator.upper()} ({machine_shape or 'default shape'}); this machine "
                 "runs kernels on what it has (the kernel's strategy line says what it got)")
        note({"none": "internet: on",
              "netns": "internet: off (own network namespace, unshare -n)",
              "guard": "internet: off (WEAK: Python audit hook only; subprocesses are not blocked)"}[isolation])
        cmd = [sys.executable, "-S", "-u"]
        cmd += ["-c", _GUARD, str(script)] if isolation == "guard" else [str(script)]
        if bwrap_available():
            note("filesystem: only the inputs (read-only), the working folder and Python are visible (bubblewrap)")
            sources = [Path(m.source) for m in mounts or []]
            cmd = bwrap_prefix(root, read_only=[kernel_site_dir(), *sources, *map(Path, python_path or [])],
                               internet=isolation == "none", hide=list(hide),
                               sealed=[root / "input", root / "src"]) + cmd
        else:
            note("filesystem: NOT isolated: the kernel can read this machine's files. " + INSTALL_HINT)
            if isolation == "netns":
                cmd = _netns_prefix() + cmd
        extra = dict(env or {})
        if python_path:
            extra["PYTHONPATH"] = os.pathsep.join([*map(str, python_path), str(kernel_site_dir())])
        proc = subprocess.Popen(cmd, cwd=root / "working", env=kernel_env(root, internet, accelerator, extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                errors="replace", bufsize=1,
                                start_new_session=True)
        readers = [threading.Thread(target=_reader, args=(s, n, t0, log, lock, on_line), daemon=True)
                   for s, n in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for r in readers:
            r.start()
        timed_out = cancelled = False
        deadline = None if timeout is None else time.monotonic() + timeout
        while proc.poll() is None:
            if cancel is not None and cancel.is_set():
                cancelled = True
            elif deadline is not None and time.monotonic() > deadline:
                timed_out = True
            if cancelled or timed_out:
                _kill(proc)
                break
            try:
                proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        for r in readers:
            r.join(timeout=10)
        seconds = time.monotonic() - t0
        if timed_out:
            status, failure = KernelStatus.ERROR, f"Kernel exceeded its session timeout of {timeout:g} seconds and was stopped"
        elif cancelled:
            status, failure = KernelStatus.ERROR, "Kernel session was cancelled"
        elif proc.returncode != 0:
            status, failure = KernelStatus.ERROR, _failure(proc.returncode, log)
        else:
            status, failure = KernelStatus.COMPLETE, None
        with lock:
            log.sort(key=lambda e: e["time"])
            entries = list(log)
        outputs = _copy_outputs(root / "working", output_dir)
        return SandboxResult(status, proc.returncode, failure, entries, output_dir, outputs, seconds, isolation)
    finally:
        if not keep_root:
            shutil.rmtree(root, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    """SIGTERM the kernel's process group, then SIGKILL whatever is left of it: a sandbox's PID-namespace init
    ignores SIGTERM, and a kernel caught while the sandbox was still starting outlives the sandbox's own exit."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
