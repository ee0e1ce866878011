"""`kk kernel-status REF --follow` streams a running kernel's log from the emulator until the session ends, and
Ctrl-C while following says the kernel keeps running and how to follow it again. kk runs as a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from kernel_helpers import KEY
from test_emulator_kernels import kaggle, push_folder

from kaggle_kit.emulator.testing import client_env

KK = Path(sys.executable).parent / "kk"

SLOW_PRINTER = """
import time
for i in range({n}):
    print("tick", i, flush=True)
    time.sleep({pause})
print("all done", flush=True)
"""


def push(env, tmp_path, slug: str, n: int, pause: float) -> str:
    folder = push_folder(tmp_path, slug, SLOW_PRINTER.format(n=n, pause=pause))
    pushed = kaggle(env, "kernels", "push", "-p", str(folder))
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    return f"local/{slug}"


def test_follow_streams_the_log_until_the_session_ends(emulator, tmp_path):
    env = client_env(emulator, tmp_path / "home", user="local", key=KEY)
    ref = push(env, tmp_path, "slow-printer", n=4, pause=3.0)  # long enough to outlast kk's start-up
    proc = subprocess.Popen([str(KK), "kernel-status", ref, "--follow", "--poll-interval", "0.3"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    arrived = [(time.monotonic(), line.strip()) for line in proc.stderr]
    out = proc.stdout.read()
    assert proc.wait(timeout=60) == 0, arrived
    ticks = [(t, x) for t, x in arrived if x.startswith("tick") or x == "all done"]
    assert [x for _, x in ticks] == ["tick 0", "tick 1", "tick 2", "tick 3", "all done"]  # each line once, in order
    assert ticks[-1][0] - ticks[0][0] > 2  # streamed while the kernel ran, not printed at the end
    assert "COMPLETE" in out


def test_ctrl_c_while_following_says_the_kernel_keeps_running(emulator, tmp_path):
    env = client_env(emulator, tmp_path / "home", user="local", key=KEY)
    ref = push(env, tmp_path, "long-printer", n=60, pause=1.0)
    proc = subprocess.Popen([str(KK), "kernel-status", ref, "--follow", "--poll-interval", "0.3"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)  # kk is up and following
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "keeps running on Kaggle" in err
    assert f"kk kernel-status {ref} --follow" in err
    status = kaggle(env, "kernels", "status", ref).stdout
    assert "RUNNING" in status or "QUEUED" in status  # only kk stopped


def test_ctrl_c_while_push_kernel_waits_names_the_command_to_follow_again(project, monkeypatch):
    """The push is real up to the wait; the wait is where Ctrl-C lands (simulated: a real kernel would train)."""
    from typer.testing import CliRunner

    from kaggle_kit.cli import app
    from kaggle_kit.kernels import workflow as wf

    def push_then_interrupted(client, kernels, planning, options, progress):
        assert options.wait
        progress.on_pushed(wf.KernelReport(planning.kind, kernels[0].ref, kernels[0].build_dir, 7))
        raise KeyboardInterrupt

    monkeypatch.setattr(wf, "push_and_follow", push_then_interrupted)
    result = CliRunner().invoke(app, ["push-kernel", "train", "--limit", "100", "--epochs", "1", "--wait"])
    assert result.exit_code == 130, result.output
    assert "keeps running on Kaggle" in result.output
    assert "kk kernel-status local/digit-recognizer-kk-train/7 --follow" in result.output
