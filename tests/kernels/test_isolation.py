"""Emulator kernels see only their inputs (read-only) and their working folder: not the hidden solution, not other
users' files or keys, not the emulator's state or process (issue: a kernel could read the whole host)."""

from __future__ import annotations

import json
import subprocess
import time

from kernel_helpers import KEY

from kaggle_kit.emulator.testing import client_env, kaggle_cli
from kaggle_kit.kernels.isolation import INSTALL_HINT, bwrap_available

# Each probe prints OK/BLOCKED for one thing a kernel must not reach (or must not change).
PROBES = """
import json, os
targets = TARGETS
found = {}
for name, path in targets["read"].items():
    try:
        open(path, "rb").read(1)
        found[name] = "READ"
    except OSError as exc:
        found[name] = type(exc).__name__
for name, path in targets["write"].items():
    try:
        open(path, "a").write("x")
        found[name] = "WROTE"
    except OSError as exc:
        found[name] = type(exc).__name__
found["emulator_process_visible"] = any(
    p.isdigit() and int(p) == targets["emulator_pid"] for p in os.listdir("/proc"))
inputs = os.environ["KK_KAGGLE_INPUT"]
found["input_listing"] = sorted(os.listdir(os.path.join(inputs, "competitions", "digit-recognizer")))
print("PROBE " + json.dumps(found))
"""


def _push(emulator, tmp_path, targets: dict) -> dict:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "probe.py").write_text(f"TARGETS = __import__('json').loads({json.dumps(targets)!r})\n" + PROBES)
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": "local/probe", "title": "probe", "code_file": "probe.py", "language": "python",
        "kernel_type": "script", "enable_internet": False, "competition_sources": ["digit-recognizer"]}))
    env = client_env(emulator, tmp_path / "home", user="local", key=KEY)
    r = subprocess.run([kaggle_cli(), "kernels", "push", "-p", str(folder)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert "successfully pushed" in r.stdout, r
    deadline = time.monotonic() + 90
    out = tmp_path / "out"
    while time.monotonic() < deadline:
        status = subprocess.run([kaggle_cli(), "kernels", "status", "local/probe"], capture_output=True, text=True,
                                timeout=60, env=env).stdout
        if "COMPLETE" in status or "ERROR" in status:
            break
        time.sleep(0.5)
    subprocess.run([kaggle_cli(), "kernels", "output", "local/probe", "-p", str(out)], capture_output=True,
                   timeout=60, env=env)
    log = json.loads((out / "probe.log").read_text())
    line = next(e["data"] for e in log if e["data"].startswith("PROBE "))
    return json.loads(line[len("PROBE "):])


def test_a_kernel_sees_only_its_inputs_and_working_folder(emulator, kernel_store, tmp_path):
    assert bwrap_available(), "bubblewrap is needed to isolate kernels here. " + INSTALL_HINT
    import os

    secret_home = tmp_path / "home" / ".kaggle"
    secret_home.mkdir(parents=True)
    (secret_home / "kaggle.json").write_text(json.dumps({"username": "local", "key": KEY}))
    targets = {
        "read": {
            "solution": str(kernel_store / "digit-recognizer" / "solution.csv"),
            "emulator_state": str(next(p for p in emulator.backend.state_dir.rglob("*") if p.is_file())),
            "users_key_file": str(secret_home / "kaggle.json"),
            "emulator_environ": f"/proc/{os.getpid()}/environ",
        },
        "write": {
            "input_file": str(kernel_store / "digit-recognizer" / "data" / "train.csv"),
        },
        "emulator_pid": os.getpid(),
    }
    found = _push(emulator, tmp_path, targets)
    assert found["solution"] != "READ" and found["emulator_state"] != "READ"
    assert found["users_key_file"] != "READ" and found["emulator_environ"] != "READ"
    assert found["input_file"] != "WROTE"
    assert found["emulator_process_visible"] is False
    assert found["input_listing"] == ["sample_submission.csv", "test.csv", "train.csv"]  # inputs still readable
