"""One `kk train` per run folder; a run that fails before it starts leaves no folder for `kk runs` to list."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.locks import folder_lock
from kaggle_kit.sample_data import write_competition


def kk(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_second_train_on_the_same_run_folder_is_refused(tmp_path):
    data = write_competition(tmp_path / "store", n_train=120, n_test=20) / "digit-recognizer" / "data"
    run = tmp_path / "run"
    with folder_lock(run, "train"):  # stands in for a first `kk train` still running
        second = kk("train", "digit-recognizer", "--data-dir", data, "--recipe", "knn", "--folds", 2, "--run-dir", run)
        assert second.exit_code != 0
        assert f"in use by another kk train (pid {os.getpid()}" in second.output
        assert not (run / "run.json").exists()
    first = kk("train", "digit-recognizer", "--data-dir", data, "--recipe", "knn", "--folds", 2, "--run-dir", run)
    assert first.exit_code == 0, first.output


def test_a_run_that_fails_before_writing_anything_leaves_no_folder(tmp_path):
    data = write_competition(tmp_path / "store", n_train=120, n_test=20) / "digit-recognizer" / "data"
    run = tmp_path / "runs" / "digit-recognizer" / "never-started"
    result = kk("train", "digit-recognizer", "--data-dir", data, "--recipe", "knn", "--folds", 2, "--run-dir", run,
                "--pseudo-label", tmp_path / "no-such-run", "--threshold", 0.9)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert not run.exists(), sorted(p.name for p in run.iterdir())
