"""`kk demo` end to end: the project's main job. Its summary must agree with the run folder and the emulator."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kaggle_kit.emulator.server import EmulatorServer


def _accuracy(submission: Path, solution: Path, usage: str) -> float:
    with open(solution) as f:
        truth = {r[0]: (r[1], r[2]) for r in list(csv.reader(f))[1:]}
    with open(submission) as f:
        rows = list(csv.reader(f))[1:]
    hits = [label == truth[i][0] for i, label in rows if truth[i][1] == usage]
    return float(np.mean(hits))


@pytest.mark.slow
def test_kk_demo_end_to_end(tmp_path):
    workdir = tmp_path / "demo"
    kk = Path(sys.executable).parent / "kk"
    # 4 epochs instead of the demo's 12: every step of the loop still runs for real (download, 2-fold training,
    # upload, internet-off inference kernel, kernel submission, scoring); only the training is shorter.
    proc = subprocess.run([str(kk), "demo", "--workdir", str(workdir), "--epochs", "4"], capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "kk demo: done" in proc.stdout
    summary = json.loads((workdir / "summary.json").read_text())

    # CV accuracy is the run folder's, and the run trained what the demo says.
    metrics = json.loads((Path(summary["run_dir"]) / "metrics.json").read_text())
    assert summary["cv_accuracy"] == pytest.approx(metrics["cv_accuracy"])
    assert summary["cv_accuracy"] > 0.5  # real digits, real training: far above the 0.1 of guessing
    assert f"{summary['cv_accuracy']:.4f}" in proc.stdout
    for plot in ("curves.png", "confusion.png", "per_class.png", "misclassified.png"):
        assert (Path(summary["plots_dir"]) / plot).stat().st_size > 0

    # The public score is the emulator's, and it is what the kernel's submission.csv really scores.
    submission = Path(summary["submission"])
    solution = workdir / "store" / "digit-recognizer" / "solution.csv"
    with EmulatorServer(workdir / "store", workdir / "emulator-state", users=("demo:demo-secret-key",)) as server:
        stored = server.backend.competitions.submission("demo", int(summary["submission_ref"]))
        assert stored.status == "COMPLETE"
        assert summary["public_score"] == pytest.approx(stored.public_score, abs=1e-5)
    assert summary["public_score"] == pytest.approx(_accuracy(submission, solution, "Public"), abs=1e-5)
    assert f"{summary['public_score']:.4f}" in proc.stdout

    # The key never lands in anything the demo wrote.
    for path in workdir.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000 and "home" not in path.relative_to(workdir).parts:
            assert b"demo-secret-key" not in path.read_bytes(), path
