"""`kk demo`: the whole loop, offline, on the embedded Kaggle emulator, by the commands a user would type.

It builds a small digit-recognizer-layout competition from the real handwritten digits that ship with
scikit-learn, starts the emulator on a free port, and runs, each as its own `kk` process pointed at the
emulator (`KK_KAGGLE_URL`): download -> train -> upload-weights -> offline inference kernel -> submit.
Everything lands in one work folder (default `kk-demo/`), which is wiped at the start of each demo, and a
`summary.json` there records the figures the final summary prints.

Example (a few minutes of training, so a plain code block):

    summary = run_demo(Path("kk-demo"), echo=print)
    summary["public_score"], summary["cv_accuracy"]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.io import atomic_write_json

COMPETITION = "digit-recognizer"
USER = "demo"
DATASET = f"{USER}/digit-recognizer-kk-weights"


class DemoStepFailed(KKError):
    """A demo step's command exited non-zero."""


@dataclass(frozen=True)
class DemoStep:
    name: str
    args: list[str]
    json_output: bool = False


def kk_executable() -> str:
    """The `kk` installed beside the running interpreter (the project's venv)."""
    path = Path(sys.executable).parent / "kk"
    return str(path) if path.exists() else "kk"


def demo_steps(run_dir: str, epochs: int, folds: int, batch_size: int) -> list[DemoStep]:
    return [
        DemoStep("download", ["download", COMPETITION]),
        DemoStep("train", ["train", "--recipe", "default", "--folds", str(folds), "--epochs", str(epochs),
                           "--batch-size", str(batch_size), "--run-dir", run_dir]),
        DemoStep("upload-weights", ["upload-weights", run_dir, "--dataset", DATASET, "-m", "kk demo weights",
                                    "--json"], json_output=True),
        DemoStep("push-kernel inference", ["push-kernel", "inference", "--weights", DATASET, "--no-internet",
                                           "--wait", "--json"], json_output=True),
    ]


def _run(step: DemoStep, cwd: Path, env: dict, echo: Callable[[str], None]) -> dict:
    """Run one step as its own `kk` process; its `--json` result, or {} for a step that prints none."""
    cmd = [kk_executable(), *step.args]
    echo(f"\n$ kk {' '.join(step.args)}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE if step.json_output else None, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise DemoStepFailed(f"demo failed at step '{step.name}' (kk {' '.join(step.args)}): exit code "
                             f"{proc.returncode}")
    echo(f"  ({step.name}: {elapsed:.1f} s)")
    if not step.json_output:
        return {}
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise DemoStepFailed(f"demo step '{step.name}' printed no JSON result: {proc.stdout[-500:]!r}") from None
    echo("  " + json.dumps(result))
    return result


def run_demo(workdir: Path, echo: Callable[[str], None] = print, epochs: int = 12, folds: int = 2,
             batch_size: int = 32, n_train: int = 1397, n_test: int = 400) -> dict:
    """Run the whole loop in `workdir` (wiped first) and return the summary (also saved as summary.json).

    ~700 training images a fold: batches of 32 give the network (and its BatchNorm statistics) enough steps.
    """
    from kaggle_kit.emulator.testing import client_env, running_emulator
    from kaggle_kit.sample_data import write_competition

    start = time.perf_counter()
    workdir = Path(workdir).resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    project = workdir / "project"
    project.mkdir(parents=True)
    echo(f"building a {n_train}+{n_test}-image digit-recognizer competition from scikit-learn's digits...")
    store = write_competition(workdir / "store", layout="digit-recognizer", n_train=n_train, n_test=n_test)
    run_dir = f"runs/{COMPETITION}/demo"
    with running_emulator(store, state=workdir / "emulator-state", users=(f"{USER}:demo-secret-key",)) as server:
        echo(f"Kaggle emulator listening on {server.url} (KK_KAGGLE_URL)")
        env = client_env(server, workdir / "home", user=USER, key="demo-secret-key")
        results = {}
        for step in demo_steps(run_dir, epochs, folds, batch_size):
            results[step.name] = _run(step, project, env, echo)
        kernel_ref = results["push-kernel inference"]["ref"]
        submit = _run(DemoStep("submit", ["submit", "--kernel", kernel_ref, "--wait", "--json",
                                          "-m", "kk demo"], json_output=True), project, env, echo)
    metrics = json.loads((project / run_dir / "metrics.json").read_text())
    summary = {
        "competition": COMPETITION,
        "cv_accuracy": metrics["cv_accuracy"],
        "public_score": float(submit["public_score"]),
        "submission_ref": submit["ref"],
        "kernel": kernel_ref,
        "weights_dataset": results["upload-weights"]["ref"],
        "run_dir": str(project / run_dir),
        "plots_dir": str(project / run_dir / "plots"),
        "submission": results["push-kernel inference"]["submission"],
        "emulator_state": str(workdir / "emulator-state"),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    atomic_write_json(workdir / "summary.json", summary)
    return summary
