"""The per-folder lock: a second process is refused with who holds it; the lock dies with its holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from kaggle_kit.errors import LockedError
from kaggle_kit.locks import folder_lock

HOLD = """
import sys, time
from kaggle_kit.locks import folder_lock
with folder_lock(sys.argv[1], "train"):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_process_is_refused_with_the_holders_pid(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(LockedError) as err:
            with folder_lock(tmp_path, "train"):
                pass
        assert f"pid {proc.pid}" in err.value.message and "kk train" in err.value.message
        assert str(tmp_path) in err.value.message
    finally:
        proc.kill()
        proc.wait()


def test_kill_9_releases_the_lock(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with folder_lock(tmp_path, "download") as held:  # no stale lock: the kernel dropped it with the process
        assert held == tmp_path


def test_released_after_the_block(tmp_path):
    with folder_lock(tmp_path, "train"):
        pass
    with folder_lock(tmp_path, "train"):
        pass
