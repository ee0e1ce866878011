"""The Makefile works from a user's competition project folder (`make -f <checkout>/Makefile TARGET`).

Real make, real `kk` subprocesses, a running emulator; the project folder holds only what `kk init` wrote.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaggle_kit.sample_data import write_competition

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = ROOT / "Makefile"
KK = Path(sys.executable).parent / "kk"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator:
    from kaggle_kit.emulator.testing import running_emulator

    store = write_competition(tmp_path_factory.mktemp("store"), layout="digit-recognizer", n_train=200, n_test=60)
    with running_emulator(store) as server:
        server.store_root = store
        yield server


@pytest.fixture
def project(tmp_path, emulator) -> tuple[Path, dict[str, str]]:
    """An empty project folder with a kk.toml, and an environment pointing kk (this checkout's code) at the emulator."""
    from kaggle_kit.emulator.testing import client_env

    env = client_env(emulator, tmp_path / "home")
    # The kk of the interpreter running the tests, with this checkout's code, when the checkout has no .venv.
    env["PATH"] = os.pathsep.join([str(KK.parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("MAKEFLAGS", None)
    folder = tmp_path / "project"
    folder.mkdir()
    done = subprocess.run([str(KK), "init", "digit-recognizer", "--owner", "local"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["kk.toml"]
    return folder, env


def make(project, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    folder, env = project
    return subprocess.run(["make", "--no-print-directory", "-f", str(MAKEFILE), *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_download_and_train_from_a_project_folder(project):
    done = make(project, "download", "train", "EPOCHS=1", "TRAIN_ARGS=--limit 200 --batch-size 32 --folds 2 --fold 0")
    assert done.returncode == 0, done.stdout + done.stderr
    folder = project[0]
    assert (folder / "datasets" / "digit-recognizer" / "train.csv").is_file()
    runs = list((folder / "runs" / "digit-recognizer").glob("*/run.json"))
    assert len(runs) == 1, done.stdout + done.stderr
    run_dir = runs[0].parent
    assert (run_dir / "fold0" / "done.json").is_file()
    history = list(csv.DictReader(open(run_dir / "fold0" / "history.csv")))
    assert len(history) == 1  # EPOCHS=1 reached kk train
    assert "(from kk.toml)" in done.stderr  # no competition passed: kk took kk.toml's


def test_recipe_values_are_not_overridden_unless_set(project):
    plain = make(project, "-n", "train", "push-train")
    assert plain.returncode == 0, plain.stderr
    commands = [line for line in plain.stdout.splitlines() if " train" in line and "command -v" not in line]
    assert commands and all(w not in line for line in commands for w in ("--folds", "--epochs", "--recipe",
                                                                         "digit-recognizer")), commands
    chosen = make(project, "-n", "train", "FOLDS=8", "RECIPE=seed002", "COMPETITION=Kannada-MNIST")
    assert "train Kannada-MNIST --recipe seed002 --folds 8" in " ".join(chosen.stdout.split())


def test_push_inference_without_weights_uses_kks_default_and_says_what_to_set(project):
    # Nothing published yet in this project: kk's default (the newest weights `make weights` published) fails.
    done = make(project, "push-inference", timeout=120)
    assert done.returncode != 0
    assert "--weights OWNER/SLUG" in done.stderr, done.stderr
    assert "WEIGHTS=owner/slug" in make(project, "help").stdout
    # A value the user sets reaches --weights as a value, never swallowing the next flag.
    bad = make(project, "push-inference", "WEIGHTS=not-a-dataset-ref", timeout=120)
    assert bad.returncode != 0
    assert "--weights 'not-a-dataset-ref'" in bad.stderr, bad.stderr


def test_submit_waits_for_the_score(project, emulator):
    folder = project[0]
    with open(emulator.store_root / "digit-recognizer" / "solution.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    (folder / "submission.csv").write_text("ImageId,Label\n" + "".join(f"{r['ImageId']},{r['Label']}\n" for r in rows))
    done = make(project, "download", "submit", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "public score: 1.0" in done.stdout, done.stdout


def test_help_has_no_colour_when_not_a_terminal(project):
    done = make(project, "help")
    assert done.returncode == 0
    assert "\x1b[" not in done.stdout
    for target in ("download", "train", "push-train", "weights", "push-inference", "submit", "setup", "test"):
        assert f"  {target} " in done.stdout
    if shutil.which("script"):  # on a terminal it is coloured (so the check above can see the difference)
        tty = subprocess.run(["script", "-qec", f"make --no-print-directory -f {MAKEFILE} help", "/dev/null"],
                             cwd=project[0], env=project[1], capture_output=True, text=True, timeout=60)
        assert "\x1b[36m" in tty.stdout


def test_setup_resolves_from_another_folder(project):
    # The stamp depends on the checkout's pyproject.toml, wherever make runs (a dry run still resolves it).
    done = make(project, "-n", "setup")
    assert done.returncode == 0, done.stderr
    assert "No rule to make target" not in done.stderr


def test_project_targets_use_the_checkouts_kk_when_it_has_one(project, tmp_path):
    # A stand-in checkout with a .venv/bin/kk: make from a project folder must run that one, not kk on PATH.
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(MAKEFILE, checkout / "Makefile")
    fake = checkout / ".venv" / "bin" / "kk"
    fake.write_text("#!/bin/sh\necho \"checkout kk: $*\"\n")
    fake.chmod(0o755)
    done = subprocess.run(["make", "--no-print-directory", "-f", str(checkout / "Makefile"), "download"],
                          cwd=project[0], env=project[1], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "checkout kk: download"

