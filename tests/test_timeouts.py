"""Each timeout a user can set does what it says, through the real `kk` (subprocess) against the emulator:
`kk submit --wait --timeout`, `kk push-kernel --session-timeout` (the session is stopped: ERROR) and
`kk push-kernel --wait --wait-timeout` (kk stops waiting; the kernel goes on)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaggle_kit.emulator.testing import client_env, running_emulator
from kaggle_kit.sample_data import write_competition

KK = Path(sys.executable).parent / "kk"
SLUG = "digit-recognizer"
KEY = "timeouts-secret-key"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An emulator whose submissions stay PENDING for an hour, and a kk project pointed at it."""
    tmp = tmp_path_factory.mktemp("timeouts")
    store = write_competition(tmp / "store", n_train=120, n_test=30)
    with running_emulator(store, users=(f"local:{KEY}",), scoring_delay=3600) as server:
        project = tmp / "project"
        shutil.copytree(store / SLUG / "data", project / "datasets" / SLUG)
        (project / "kk.toml").write_text(f'competition = "{SLUG}"\nowner = "local"\n')
        env = client_env(server, tmp / "home", user="local", key=KEY)
        try:
            yield server, project, env
        finally:
            server.backend.kernels.close()


def _kk(world, *args, timeout=300):
    _, project, env = world
    t0 = time.monotonic()
    proc = subprocess.run([str(KK), *map(str, args)], cwd=project, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc, time.monotonic() - t0, " ".join((proc.stdout + proc.stderr).split())


def test_submit_wait_timeout_gives_up_with_a_clear_error(world):
    _, project, _ = world
    sample = project / "datasets" / SLUG / "sample_submission.csv"
    proc, seconds, out = _kk(world, "submit", "--file", sample, "--wait", "--timeout", 3, "--poll-interval", 0.3)
    assert proc.returncode == 1, out
    assert "is still PENDING after 3 s" in out, out
    assert "Traceback" not in out and KEY not in out
    assert seconds < 60  # not the default 1800 s


def _push(world, *args):
    return _kk(world, "push-kernel", "train", "--cpu", "--folds", 2, "--epochs", 1, "--limit", 60,
               "--poll-interval", 0.3, *args)


def test_session_timeout_stops_the_kernel(world):
    proc, seconds, out = _push(world, "--slug", "session-limit", "--session-timeout", 3, "--wait")
    assert proc.returncode != 0, out
    assert "ERROR" in out and "session timeout of 3 seconds" in out, out
    assert "Traceback (most recent call last)" not in proc.stderr.split("log (last lines)")[0]
    assert seconds < 120


def test_wait_timeout_stops_waiting_not_the_kernel(world):
    server, _, _ = world
    proc, seconds, out = _push(world, "--slug", "wait-limit", "--session-timeout", 600, "--wait",
                               "--wait-timeout", 2)
    assert proc.returncode != 0, out
    assert "gave up waiting after 2 s" in out and "local/wait-limit" in out, out
    assert seconds < 60
    status, _, out = _kk(world, "kernel-status", "local/wait-limit")
    assert "RUNNING" in out or "QUEUED" in out, out  # the session goes on without kk watching
