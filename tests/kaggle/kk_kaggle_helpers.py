"""Helpers for the Kaggle-layer tests: running kk in-process or as a subprocess, and independent scoring."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

KK = Path(sys.executable).parent / "kk"
SLUG = "digit-recognizer"
LIMITED = "limited-digits"  # a competition allowing 2 submissions a day
REAL_LOOKING_KEY = "0123456789abcdef0123456789abcdef"  # 32 hex digits, like a real Kaggle key


@dataclass
class Env:
    """One test's world: its own HOME, TMPDIR and project folder, pointed at the emulator as user `local`."""

    home: Path
    project: Path
    vars: dict[str, str]


def invoke(*args: str):
    """Run kk in this process; the result's `.output` holds stdout and stderr."""
    from kaggle_kit.cli import app

    return CliRunner().invoke(app, list(args))


def run_kk(env: Env, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed `kk` as a subprocess in the test's project folder and environment."""
    return subprocess.run([str(KK), *args], cwd=env.project, env=env.vars, capture_output=True, text=True,
                          timeout=timeout)


def solution_rows(store: Path, slug: str = SLUG) -> list[dict[str, str]]:
    with open(store / slug / "solution.csv", newline="") as f:
        return list(csv.DictReader(f))


def write_predictions(path: Path, rows: list[dict[str, str]], wrong: int = 0) -> Path:
    """A submission with the true labels, except the first `wrong` rows, whose label is shifted by one."""
    lines = ["ImageId,Label"]
    for i, row in enumerate(rows):
        label = int(row["Label"])
        lines.append(f"{row['ImageId']},{(label + 1) % 10 if i < wrong else label}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def public_accuracy(store: Path, submission: Path, slug: str = SLUG) -> float:
    """Accuracy on the Public rows, computed independently of the emulator from solution.csv."""
    truth = {r["ImageId"]: (r["Label"], r["Usage"]) for r in solution_rows(store, slug)}
    with open(submission, newline="") as f:
        predicted = {r["ImageId"]: r["Label"] for r in csv.DictReader(f)}
    public = [i for i, (_, usage) in truth.items() if usage == "Public"]
    return sum(predicted[i] == truth[i][0] for i in public) / len(public)


def my_submissions(emulator, user: str = "local", slug: str | None = None) -> list:
    subs = emulator.backend.competitions.submissions.values()
    return [s for s in subs if s.owner == user and (slug is None or s.competition == slug)]
