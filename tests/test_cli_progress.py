"""What a person at a terminal sees while `kk train` works: run in a pseudo-terminal (rich draws its live bars only
on a terminal), on a few hundred real digits, 1 epoch of each of 2 folds."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaggle_kit.sample_data import write_competition

KK = Path(sys.executable).parent / "kk"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_in_pty(args: list[str], cwd: Path, timeout: float = 300) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdin/stdout/stderr; its whole output without colour codes."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "140", "LINES": "40", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(args, cwd=cwd, stdin=follower, stdout=follower, stderr=follower, env=env,
                            close_fds=True)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    code = proc.wait(timeout=30)
    return code, ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r", "\n")


@pytest.mark.slow
def test_train_bars_show_the_eta_and_rate_and_name_the_compile_wait(tmp_path):
    data = write_competition(tmp_path / "store", n_train=300, n_test=40) / "digit-recognizer" / "data"
    code, out = run_in_pty([str(KK), "train", "digit-recognizer", "--data-dir", str(data), "--folds", "2",
                            "--epochs", "1", "--batch-size", "16", "--run-dir", str(tmp_path / "r1")], tmp_path)
    assert code == 0, out
    assert "compiling the model..." in out
    assert re.search(r"epoch 1 .*eta \d+:\d\d:\d\d", out), out  # a real estimate, not a placeholder
    assert re.search(r"fold 1 .*eta \d+:\d\d:\d\d", out), out
    assert re.search(r"all folds .*eta \d+:\d\d:\d\d", out), out
    assert re.search(r"\d+(\.\d)? img/s", out)
    assert f"next: kk predict {tmp_path / 'r1'}" in " ".join(out.split()), out

    # predict on the same run: a bar over fold x pass with its ETA, then the next step
    code, out = run_in_pty([str(KK), "predict", str(tmp_path / "r1"), "--tta", "1", "--data-dir", str(data)], tmp_path)
    assert code == 0, out
    assert re.search(r"predicting \(fold x pass\) .*4/4", out), out
    assert f"next: kk submit --file {tmp_path / 'r1' / 'submission.csv'} --wait" in " ".join(out.split()), out


@pytest.mark.slow
def test_lr_find_shows_a_bar_with_an_eta(tmp_path):
    data = write_competition(tmp_path / "store", n_train=300, n_test=40) / "digit-recognizer" / "data"
    code, out = run_in_pty([str(KK), "lr-find", "digit-recognizer", "--data-dir", str(data), "--limit", "200",
                            "--steps", "30"], tmp_path)
    assert code == 0, out
    assert re.search(r"lr sweep .*\d+/30 eta \d+:\d\d:\d\d", out), out
    assert "suggested learning rate" in out
