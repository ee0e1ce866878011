"""Push rendered kernels, fetch their outputs, and bring a training kernel's run folder home.

    push_kernel(client, kernel)            -> the new version (a `KKError` on any push problem)
    fetch_outputs(client, ref, v, dest)    -> the output files and the parsed log
    install_run(dest, runs_root)           -> the run folder copied (verified against its manifest) into runs/
    split_folds([0, 1, 2, 3, 4], 2)        -> [[0, 2, 4], [1, 3]]: `--parallel N` fans folds over N kernels

A kernel's log is Kaggle's JSON array of `{"stream_name", "time", "data"}`; `log_lines` turns it into text.
`accelerator_warning` reads the strategy line the kernel printed and says when it asked for a GPU/TPU and did
not get one.

Example (needs a Kaggle client and a rendered kernel, so a plain code block):

    pushed = push_kernel(client, render_kernel(plan))
    final = client.kernel_status(pushed.ref, pushed.version)     # fanout.run_within_limit polls to the end
    out = fetch_outputs(client, pushed.ref, pushed.version, "kernels/build/x/output")
    install_run([kernel_run_dir(out)], runs_base())
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kaggle_kit.accelerators import Accelerator
from kaggle_kit.errors import KKError
from kaggle_kit.io import confined
from kaggle_kit.kernels.runtime import RESULT_FILE, RESULT_PREFIX, RUNTIME_PREFIX
from kaggle_kit.kernels.sandbox import log_tail
from kaggle_kit.status import KernelStatus


def finished(status: str) -> bool:
    """Whether a session status is final; statuses kk does not know (Kaggle's `NEW_SCRIPT`, ...) are not."""
    try:
        return KernelStatus(str(status)).finished
    except ValueError:
        return False


def owner_name(client=None) -> str:
    """Who kernels and datasets belong to: kk.toml's `owner`, else the Kaggle credentials' username."""
    from kaggle_kit.project import load_project

    project = load_project()
    if project and project.owner:
        return project.owner
    if client is None:
        from kaggle_kit.kaggle.client import KaggleClient

        client = KaggleClient()
    name = client.username
    if not name:
        raise KKError("cannot tell who owns the kernel: no owner in kk.toml and no username in the credentials",
                      hint="Add `owner = \"your-kaggle-username\"` to kk.toml (kk init COMPETITION --owner NAME).")
    return name


def split_folds(folds: list[int], parts: int) -> list[list[int]]:
    """Deal `folds` round-robin into at most `parts` non-empty subsets (one per parallel kernel)."""
    if parts < 1:
        raise KKError(f"--parallel {parts}: must be at least 1")
    parts = min(parts, len(folds))
    return [sorted(folds[i::parts]) for i in range(parts)]


def parse_folds(text: str | None) -> list[int] | None:
    """`"0,2,4"` -> [0, 2, 4]; None stays None."""
    if text is None:
        return None
    try:
        folds = sorted({int(x) for x in str(text).replace(" ", "").split(",") if x != ""})
    except ValueError:
        raise KKError(f"--folds {text!r}: expected fold numbers like 0,1,2") from None
    if not folds or min(folds) < 0:
        raise KKError(f"--folds {text!r}: expected fold numbers like 0,1,2")
    return folds


# -- push and wait ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    ref: str
    version: int | None
    url: str | None
    build_dir: Path


def push_kernel(client, kernel, timeout: int | None = None) -> Pushed:
    """Push a `RenderedKernel`'s folder as a new version (the adapter raises on every push problem)."""
    result = client.kernel_push(kernel.build_dir, timeout=timeout)
    return Pushed(result.ref or kernel.ref, result.version, result.url, kernel.build_dir)


# -- outputs and logs ------------------------------------------------------------------------------------------------


def parse_log(text: str) -> list[dict]:
    """A kernel log as Kaggle serves it (a JSON array, or JSON lines) -> entries; plain text becomes one entry."""
    text = text.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
        if isinstance(data, list):
            return [e for e in data if isinstance(e, dict)]
    except ValueError:
        pass
    entries = []
    for line in text.splitlines():
        line = line.strip().rstrip(",")
        try:
            e = json.loads(line)
        except ValueError:
            e = None
        if isinstance(e, dict):
            entries.append(e)
    return entries or [{"stream_name": "stdout", "time": 0.0, "data": text + "\n"}]


def log_lines(log: list[dict]) -> list[str]:
    return "".join(str(e.get("data", "")) for e in log).splitlines()


def _prefixed_json(log: list[dict], prefix: str) -> dict | None:
    for line in reversed(log_lines(log)):
        if line.startswith(prefix):
            try:
                return json.loads(line[len(prefix):])
            except ValueError:
                return None
    return None


def runtime_from_log(log: list[dict]) -> dict | None:
    """The `kk runtime:` record a kaggle-kit kernel prints (accelerator, devices, strategy line)."""
    return _prefixed_json(log, RUNTIME_PREFIX)


def strategy_from_log(log: list[dict]) -> dict | None:
    """The kernel's strategy line (`strategy: tpu (TPUStrategy), 8 replicas, ...`), parsed."""
    from kaggle_kit.training.strategy import parse_strategy_line

    for line in log_lines(log):
        parsed = parse_strategy_line(line)
        if parsed:
            return {**parsed, "line": line.strip()}
    return None


def accelerator_warning(requested: Accelerator | str, log: list[dict]) -> str | None:
    """A warning when the kernel asked for a GPU/TPU and its strategy line says it ran on something else."""
    kind = requested.kind if isinstance(requested, Accelerator) else str(requested)
    if kind == "cpu":
        return None
    strategy = strategy_from_log(log)
    runtime = runtime_from_log(log) or {}
    got = strategy["kind"] if strategy else runtime.get("accelerator")
    if got is None:
        return (f"asked for a {kind.upper()} but the kernel log has no strategy line, so kk cannot tell what it "
                "ran on")
    got_family = "gpu" if got in ("gpu", "multi_gpu") else got
    shape = f" ({requested.machine_shape})" if isinstance(requested, Accelerator) and requested.machine_shape else ""
    if got_family == kind:
        if strategy and strategy.get("simulated"):
            return f"asked for a {kind.upper()}{shape}; this session simulated one: {strategy['line']}"
        return None
    line = strategy["line"] if strategy else f"accelerator {got}"
    missing = missing_from_log(log)
    if missing:  # the kernel's own diagnosis: what it found and why
        what = "stopped at once" if not missing.get("fallback") else "ran on the CPU (--allow-cpu-fallback)"
        return (f"asked for a {kind.upper()}{shape}; the kernel found {str(missing.get('found')).upper()} and "
                f"{what}: {missing.get('cause')}. ({line})")
    return (f"asked for a {kind.upper()}{shape} but the kernel ran on {got_family.upper()}: {line}. "
            "Check your Kaggle accelerator quota and phone verification, or that the machine shape exists.")


def missing_from_log(log: list[dict]) -> dict | None:
    """The `kk accelerator missing:` record a kernel prints when it asked for a GPU/TPU and found none."""
    from kaggle_kit.kernels.runtime import MISSING_PREFIX

    for line in "".join(str(e.get("data", "")) for e in log).splitlines():
        if line.startswith(MISSING_PREFIX):
            try:
                return json.loads(line[len(MISSING_PREFIX):])
            except ValueError:
                return None
    return None


@dataclass
class Outputs:
    """A kernel version's fetched outputs: where they are, which files, its log and its `kk-result.json`."""

    folder: Path
    files: list[Path]
    log: list[dict]
    result: dict | None = None
    runtime: dict | None = None
    extra: dict = field(default_factory=dict)

    def tail(self, n: int = 25) -> list[str]:
        return log_tail(self.log, n)


def fetch_outputs(client, ref: str, version: int | None, dest: str | Path, clean: bool = True) -> Outputs:
    """Download a kernel version's outputs (and log) into `dest` (emptied first when `clean`)."""
    dest = Path(dest)
    if clean and dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    files = client.kernel_output(ref, dest, version=version)
    slug = ref.split("/")[1]
    log_file = dest / f"{slug}.log"
    log = parse_log(log_file.read_text()) if log_file.is_file() else []
    result = None
    if (dest / RESULT_FILE).is_file():
        try:
            result = json.loads((dest / RESULT_FILE).read_text())
        except ValueError:
            result = None
    result = result or _prefixed_json(log, RESULT_PREFIX)
    return Outputs(dest, [Path(f) for f in files], log, result, runtime_from_log(log))


# -- the run folder --------------------------------------------------------------------------------------------------


def kernel_run_dir(outputs: Outputs) -> Path | None:
    """The run folder inside a training kernel's outputs (`runs/<competition>/<run-id>/`), if there is one."""
    rel = (outputs.result or {}).get("run_dir")
    if rel:
        folder = confined(outputs.folder, *Path(rel).parts, what="the kernel's run_dir")
        if (folder / "run.json").is_file():
            return folder
    found = sorted(outputs.folder.glob("runs/*/*/run.json"))
    return found[0].parent if found else None


def install_run(parts: list[Path], runs_root: str | Path, competition_data: Path | None = None) -> Path:
    """Copy the run folder(s) a training kernel (or several, one fold subset each) produced into `runs_root`.

    Each part is verified against its own `manifest.json` first. Parts must be the same run (same competition,
    run id and config hash). The local run folder's top-level results (OOF, metrics, plots, manifest) are then
    rebuilt from all its finished folds when the competition data is here (`competition_data`); otherwise only
    the manifest is rewritten, and the command to rebuild the rest is printed by the caller.
    """
    from kaggle_kit.training import runs

    if not parts:
        raise KKError("no run folder in the kernel's outputs")
    infos = []
    for part in parts:
        problems = runs.verify_manifest(part)
        if problems:
            raise KKError(f"{part}: downloaded files do not match the kernel's manifest.json: " + "; ".join(problems[:5]))
        infos.append(runs.read_json(part / runs.RUN_FILE) or {})
    first = infos[0]
    for part, info in zip(parts[1:], infos[1:]):
        if (info.get("competition"), info.get("config_hash")) != (first.get("competition"), first.get("config_hash")) \
                or part.name != parts[0].name:
            raise KKError(f"{part}: not the same run as {parts[0]} (competition, run id or config hash differ)")
    target = confined(runs_root, str(first.get("competition")), parts[0].name, what="the kernel run's competition/run id")
    if (target / runs.RUN_FILE).is_file():
        local = runs.read_json(target / runs.RUN_FILE) or {}
        if local.get("config_hash") != first.get("config_hash"):
            raise KKError(f"{target}: exists with another recipe (config hash {local.get('config_hash')} vs "
                          f"{first.get('config_hash')}); refusing to mix the two runs")
    target.mkdir(parents=True, exist_ok=True)
    for part in parts:
        for src in sorted(part.rglob("*")):
            if not src.is_file():
                continue
            rel = src.relative_to(part)
            dest = target / rel
            is_fold = rel.parts[0].startswith("fold")
            if not is_fold and dest.exists() and len(parts) > 1:
                continue  # top-level files are rebuilt below from every fold
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.part")
            shutil.copyfile(src, tmp)
            tmp.replace(dest)
    rebuilt = len(parts) > 1 or len(runs.done_folds(target)) > len(runs.done_folds(parts[0]))
    if rebuilt:
        if competition_data is not None and competition_data.is_dir():
            from kaggle_kit.competition import Competition
            from kaggle_kit.training.trainer import finalize_run

            finalize_run(target, Competition.open(competition_data, slug=str(first.get("competition"))))
        else:
            runs.record_artifacts(target)
    return target
