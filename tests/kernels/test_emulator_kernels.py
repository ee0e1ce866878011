"""The emulator's kernel endpoints, driven by the real, unmodified `kaggle` CLI (and raw RPCs where it has none)."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path

import pytest
from kernel_helpers import KEY

from kaggle_kit.emulator.testing import call_rpc, client_env, kaggle_cli, running_emulator
from kaggle_kit.kernels.sandbox import netns_available

KAGGLE = kaggle_cli()


def push_folder(tmp_path: Path, slug: str, body: str, internet: bool = False, **meta) -> Path:
    folder = tmp_path / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.py").write_text(body)
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": f"local/{slug}", "title": slug, "code_file": f"{slug}.py", "language": "python",
        "kernel_type": "script", "enable_internet": internet, "competition_sources": ["digit-recognizer"], **meta}))
    return folder


def kaggle(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KAGGLE, *args], env=env, capture_output=True, text=True, timeout=120)


def wait_done(env: dict, ref: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = kaggle(env, "kernels", "status", ref).stdout
        for state in ("COMPLETE", "ERROR", "CANCEL"):
            if f"KernelWorkerStatus.{state}" in out:
                return out
        time.sleep(0.3)
    raise AssertionError(f"{ref} did not finish: {out}")


@pytest.fixture
def env(emulator, tmp_path):
    return client_env(emulator, tmp_path / "home", user="local", key=KEY)


SUBMIT_FIRST_CLASS = """
import csv, os
root = os.environ["KK_KAGGLE_INPUT"]
rows = list(csv.reader(open(os.path.join(root, "competitions", "digit-recognizer", "sample_submission.csv"))))
with open("submission.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(rows[0])
    for r in rows[1:]:
        w.writerow([r[0], 3])
print("wrote", len(rows) - 1, "rows")
"""


def test_push_status_output_pull_and_versions(env, tmp_path, emulator):
    folder = push_folder(tmp_path, "hello-kernel", "print('hello from v1')\nopen('a.txt','w').write('1')\n")
    r = kaggle(env, "kernels", "push", "-p", str(folder))
    assert "Kernel version 1 successfully pushed" in r.stdout, r
    assert "COMPLETE" in wait_done(env, "local/hello-kernel")
    (folder / "hello-kernel.py").write_text("print('hello from v2')\n")
    r = kaggle(env, "kernels", "push", "-p", str(folder))
    assert "Kernel version 2 successfully pushed" in r.stdout, r
    wait_done(env, "local/hello-kernel")

    out = tmp_path / "out"
    r = kaggle(env, "kernels", "output", "local/hello-kernel", "-p", str(out))
    assert r.returncode == 0, r
    log = json.loads((out / "hello-kernel.log").read_text())
    assert all(set(e) == {"stream_name", "time", "data"} for e in log)
    assert any(e["data"] == "hello from v2\n" and e["stream_name"] == "stdout" for e in log)
    assert not (out / "a.txt").exists()  # the newest version wrote no file

    v1 = call_rpc(emulator, "kernels.KernelsApiService/ListKernelSessionOutput",
                  {"userName": "local", "kernelSlug": "hello-kernel", "versionLabel": "v1"}, key=KEY).json()
    assert [f["fileName"] for f in v1["files"]] == ["a.txt"] and v1["files"][0]["url"].startswith("http")
    assert "hello from v1" in v1["log"]

    pulled = tmp_path / "pulled"
    r = kaggle(env, "kernels", "pull", "local/hello-kernel", "-p", str(pulled), "-m")
    assert r.returncode == 0, r
    assert (pulled / "hello-kernel.py").read_text() == "print('hello from v2')\n"
    meta = json.loads((pulled / "kernel-metadata.json").read_text())
    assert meta["enable_internet"] is False and meta["competition_sources"] == ["digit-recognizer"]


def test_quick_save_does_not_run(emulator, tmp_path):
    body = {"slug": "local/saved-only", "newTitle": "saved-only", "text": "open('ran.txt','w').write('1')\n",
            "language": "python", "kernelType": "script", "isPrivate": True, "enableGpu": False,
            "enableInternet": False, "kernelExecutionType": "QUICK_SAVE"}
    r = call_rpc(emulator, "kernels.KernelsApiService/SaveKernel", body, key=KEY).json()
    assert r["versionNumber"] == 1
    st = call_rpc(emulator, "kernels.KernelsApiService/GetKernelSessionStatus",
                  {"userName": "local", "kernelSlug": "saved-only"}, key=KEY).json()
    out = call_rpc(emulator, "kernels.KernelsApiService/ListKernelSessionOutput",
                   {"userName": "local", "kernelSlug": "saved-only"}, key=KEY).json()
    assert st["status"] == "COMPLETE" and out["files"] == [] and "QUICK_SAVE" in out["log"]


def test_failure_message_private_kernels_and_invalid_sources(env, tmp_path, emulator):
    folder = push_folder(tmp_path, "broken-kernel", "import sys\nprint('about to fail')\nsys.exit('bad input: 42')\n",
                         dataset_sources=["local/no-such-dataset"])
    r = kaggle(env, "kernels", "push", "-p", str(folder))
    assert "not valid dataset sources" in r.stdout and "local/no-such-dataset" in r.stdout
    out = wait_done(env, "local/broken-kernel")
    assert "KernelWorkerStatus.ERROR" in out and "bad input: 42" in out
    stranger = call_rpc(emulator, "kernels.KernelsApiService/GetKernelSessionStatus",
                        {"userName": "local", "kernelSlug": "broken-kernel"}, user="nobody", key="x")
    assert stranger.status_code == 401
    with running_emulator(None, users=("a:1", "b:2")) as other:
        body = {"slug": "a/private-one", "newTitle": "private-one", "text": "print(1)\n", "language": "python",
                "kernelType": "script", "isPrivate": True, "kernelExecutionType": "QUICK_SAVE"}
        assert call_rpc(other, "kernels.KernelsApiService/SaveKernel", body, user="a", key="1").status_code == 200
        seen_by_b = call_rpc(other, "kernels.KernelsApiService/GetKernel",
                             {"userName": "a", "kernelSlug": "private-one"}, user="b", key="2")
        assert seen_by_b.status_code == 404
        body["slug"] = "b/not-mine-to-push"
        pushed_as_other = call_rpc(other, "kernels.KernelsApiService/SaveKernel", body, user="a", key="1")
        assert pushed_as_other.status_code == 403


@pytest.mark.skipif(not netns_available(), reason="`unshare -n` is not available on this machine")
def test_internet_off_kernel_cannot_reach_the_emulator(env, tmp_path, emulator):
    body = f"import socket\nsocket.create_connection(('127.0.0.1', {emulator.port}), timeout=5)\nprint('reached')\n"
    kaggle(env, "kernels", "push", "-p", str(push_folder(tmp_path, "offline-kernel", body)))
    out = wait_done(env, "local/offline-kernel")
    # refused by the kernel's own loopback (bubblewrap) or unreachable (unshare -n): never the emulator's
    assert "KernelWorkerStatus.ERROR" in out and ("unreachable" in out.lower() or "refused" in out.lower())
    kaggle(env, "kernels", "push", "-p", str(push_folder(tmp_path, "online-kernel", body, internet=True)))
    assert "COMPLETE" in wait_done(env, "local/online-kernel")


def _public_accuracy(solution: Path, submission: Path) -> float:
    truth = {r[0]: (r[1], r[2]) for r in list(csv.reader(open(solution)))[1:]}
    sub = {r[0]: r[1] for r in list(csv.reader(open(submission)))[1:]}
    public = [i for i, (_, usage) in truth.items() if usage == "Public"]
    return sum(sub[i] == truth[i][0] for i in public) / len(public)


def test_code_submission_scores_the_kernels_output(env, tmp_path, emulator, kernel_store):
    kaggle(env, "kernels", "push", "-p", str(push_folder(tmp_path, "first-class", SUBMIT_FIRST_CLASS)))
    assert "COMPLETE" in wait_done(env, "local/first-class")
    out = tmp_path / "out"
    kaggle(env, "kernels", "output", "local/first-class", "-p", str(out))
    expected = _public_accuracy(kernel_store / "digit-recognizer" / "solution.csv", out / "submission.csv")
    r = kaggle(env, "competitions", "submit", "digit-recognizer", "-k", "local/first-class", "-v", "1",
               "-f", "submission.csv", "-m", "code submission")
    assert "Successfully submitted" in r.stdout, r
    subs = call_rpc(emulator, "competitions.CompetitionApiService/ListSubmissions",
                    {"competitionName": "digit-recognizer"}, key=KEY).json()["submissions"]
    mine = next(s for s in subs if s["description"] == "code submission")
    assert mine["status"] == "COMPLETE" and float(mine["publicScore"]) == pytest.approx(expected, abs=1e-5)
    # a version that did not run successfully cannot be submitted
    kaggle(env, "kernels", "push", "-p", str(push_folder(tmp_path, "failing-one", "raise SystemExit(3)\n")))
    wait_done(env, "local/failing-one")
    bad = call_rpc(emulator, "competitions.CompetitionApiService/CreateCodeSubmission",
                   {"competitionName": "digit-recognizer", "kernelOwner": "local", "kernelSlug": "failing-one",
                        "kernelVersion": 1},
                   key=KEY)
    assert bad.status_code == 400 and "ERROR" in bad.json()["message"]


def test_sessions_are_persisted_and_a_killed_one_reads_error(kernel_store, tmp_path):
    state = tmp_path / "state"
    body = {"slug": "local/sleepy-kernel", "newTitle": "sleepy-kernel", "text": "import time\ntime.sleep(120)\n",
            "language": "python", "kernelType": "script", "isPrivate": True, "enableInternet": True}
    with running_emulator(kernel_store, state) as server:
        call_rpc(server, "kernels.KernelsApiService/SaveKernel", body)
        deadline = time.monotonic() + 30
        while server.backend.kernels.get("local", "local", "sleepy-kernel").current.status != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        t0 = time.monotonic()
        server.backend.kernels.close()
        assert time.monotonic() - t0 < 15  # the session's process was killed, not waited for
    with running_emulator(kernel_store, state) as server:
        st = call_rpc(server, "kernels.KernelsApiService/GetKernelSessionStatus",
                      {"userName": "local", "kernelSlug": "sleepy-kernel"}).json()
        assert st["status"] == "ERROR" and "stopped" in st["failureMessage"]


def notebook_folder(tmp_path: Path, slug: str, cells: list[tuple[str, str]]) -> Path:
    folder = tmp_path / slug
    folder.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True),
                     **({"outputs": [], "execution_count": None} if kind == "code" else {})} for kind, src in cells],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / f"{slug}.ipynb").write_text(json.dumps(nb))
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": f"local/{slug}", "title": slug, "code_file": f"{slug}.ipynb", "language": "python",
        "kernel_type": "notebook", "enable_internet": False}))
    return folder


def test_notebook_kernels_run_cell_by_cell(env, tmp_path, emulator):
    cells = [("markdown", "# a notebook"), ("code", "x = 20 + 1\n%matplotlib inline"),
             ("code", "print('double', x * 2)\nx"),
             ("code", "def f():\n    return x\nimport sys\nprint('to stderr', file=sys.stderr)")]
    r = kaggle(env, "kernels", "push", "-p", str(notebook_folder(tmp_path, "good-notebook", cells)))
    assert "successfully pushed" in r.stdout, r
    assert "COMPLETE" in wait_done(env, "local/good-notebook")
    out = tmp_path / "out"
    assert kaggle(env, "kernels", "output", "local/good-notebook", "-p", str(out)).returncode == 0
    nb = json.loads((out / "__notebook__.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == [1, 2, 3]
    assert code[1]["outputs"][0] == {"output_type": "stream", "name": "stdout", "text": ["double 42\n"]}
    assert code[1]["outputs"][1]["data"] == {"text/plain": "21"}  # the last bare expression, as Jupyter shows it
    assert code[2]["outputs"] == [{"output_type": "stream", "name": "stderr", "text": ["to stderr\n"]}]
    assert "double 42" in (out / "good-notebook.log").read_text()
    pulled = tmp_path / "pulled"
    assert kaggle(env, "kernels", "pull", "local/good-notebook", "-p", str(pulled)).returncode == 0
    assert json.loads((pulled / "good-notebook.ipynb").read_text())["cells"][0]["cell_type"] == "markdown"

    failing = [("code", "print('first')"), ("code", "1 / 0"), ("code", "print('never runs')")]
    kaggle(env, "kernels", "push", "-p", str(notebook_folder(tmp_path, "bad-notebook", failing)))
    status = wait_done(env, "local/bad-notebook")
    assert "ERROR" in status and "ZeroDivisionError" in status
    out2 = tmp_path / "out2"
    kaggle(env, "kernels", "output", "local/bad-notebook", "-p", str(out2))
    code = json.loads((out2 / "__notebook__.ipynb").read_text())["cells"]
    assert code[1]["outputs"][-1]["ename"] == "ZeroDivisionError"
    assert code[2]["outputs"] == [] and code[2]["execution_count"] is None  # later cells do not run
    assert "never runs" not in (out2 / "bad-notebook.log").read_text()


def test_machine_shapes_are_checked_and_retired_ones_substituted(env, tmp_path, emulator):
    folder = push_folder(tmp_path, "shape-kernel", "print(1)\n", enable_gpu=True)
    bogus = kaggle(env, "kernels", "push", "-p", str(folder), "--no-run", "--accelerator", "NvidiaTeslaK80x9")
    assert "Kernel push error: Invalid machine shape 'NvidiaTeslaK80x9'" in bogus.stdout, bogus
    retired = kaggle(env, "kernels", "push", "-p", str(folder), "--no-run", "--accelerator", "NvidiaTeslaP100")
    assert "successfully saved" in retired.stdout and "'NvidiaTeslaP100' is retired" in retired.stderr, retired
    k = emulator.backend.kernels.get("local", "local", "shape-kernel")
    assert (k.current.accelerator, k.current.machine_shape) == ("gpu", "NvidiaTeslaT4")
    mismatch = kaggle(env, "kernels", "push", "-p", str(folder), "--no-run", "--accelerator", "TpuV5E8")
    assert "Kernel push error: Machine shape TpuV5E8 is a TPU shape" in mismatch.stdout, mismatch


def _flag(kernel_store: Path, name: str) -> Path:
    """A file the test creates to end a waiting kernel. Kernels see nothing of this machine but their inputs, so it
    lives in the competition's data folder (mounted read-only, where later files still show), hidden by its dot."""
    flag = kernel_store / "digit-recognizer" / "data" / f".{name}-{time.monotonic_ns()}"
    return flag


def test_gpu_session_limit_per_account(env, tmp_path, emulator, kernel_store):
    # Each session runs until the test creates its flag file, so "still running" does not depend on timing.
    flags = [_flag(kernel_store, f"finish-{i}") for i in range(2)]
    waiter = "import os, time\nt = time.time()\nwhile not os.path.exists({!r}) and time.time() - t < 120:\n" \
             "    time.sleep(0.1)\nprint('done')\n"
    refs = []
    for i, flag in enumerate(flags):
        slug = f"gpu-session-{i}"
        r = kaggle(env, "kernels", "push", "-p", str(push_folder(tmp_path, slug, waiter.format(str(flag)),
                                                                  enable_gpu=True)))
        assert "successfully pushed" in r.stdout, r
        refs.append(f"local/{slug}")
    try:
        third = push_folder(tmp_path, "gpu-session-2", "print('third')\n", enable_gpu=True)
        refused = kaggle(env, "kernels", "push", "-p", str(third))
        assert "Kernel push error: Maximum batch GPU session count of 2 reached." in refused.stdout, refused
        # A quick save starts no session; a CPU session has its own count.
        assert "successfully saved" in kaggle(env, "kernels", "push", "-p", str(third), "--no-run").stdout
        cpu = kaggle(env, "kernels", "push", "-p", str(push_folder(tmp_path, "cpu-session", "print(1)\n")))
        assert "successfully pushed" in cpu.stdout, cpu
        flags[0].touch()
        assert "COMPLETE" in wait_done(env, refs[0])
        accepted = kaggle(env, "kernels", "push", "-p", str(third))
        assert "successfully pushed" in accepted.stdout, accepted
        assert "COMPLETE" in wait_done(env, "local/gpu-session-2")
    finally:
        for flag in flags:
            flag.touch()
        for ref in refs:
            wait_done(env, ref)
        for flag in flags:
            flag.unlink()


def test_tpu_session_limit_and_cpu_has_its_own(tmp_path, emulator, kernel_store):
    flag = _flag(kernel_store, "finish")
    waiter = (f"import os, time\nt = time.time()\nwhile not os.path.exists({str(flag)!r}) and time.time() - t < 120:\n"
              "    time.sleep(0.1)\n")
    body = {"text": waiter, "language": "python", "kernelType": "script", "enableTpu": True,
            "machineShape": "TpuV5E8", "competitionDataSources": ["digit-recognizer"]}
    first = call_rpc(emulator, "kernels.KernelsApiService/SaveKernel", {**body, "slug": "local/tpu-session-0"},
                     key=KEY).json()
    try:
        assert first["versionNumber"] == 1, first
        second = call_rpc(emulator, "kernels.KernelsApiService/SaveKernel", {**body, "slug": "local/tpu-session-1"},
                          key=KEY).json()
        assert second == {"error": "Maximum batch TPU session count of 1 reached."}
    finally:
        flag.touch()
        kernels = emulator.backend.kernels
        k = kernels.get("local", "local", "tpu-session-0")
        assert kernels.wait(k, 1, timeout=60).status.name == "COMPLETE"
        flag.unlink()
