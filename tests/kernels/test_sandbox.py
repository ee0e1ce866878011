"""The local kernel runner (`kk run-kernel` and the emulator's sessions): inputs, network cut, timeout, outputs."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.kernels import runtime
from kaggle_kit.kernels.mounts import Mount, input_mounts
from kaggle_kit.kernels.sandbox import netns_available, run_kernel

NEEDS_NETNS = pytest.mark.skipif(not netns_available(), reason="`unshare -n` is not available on this machine "
                                 "(needs root or user namespaces); kk refuses internet-off runs here")


@pytest.fixture
def listener():
    """A TCP server on 127.0.0.1 that accepts connections: the host's network, which a kernel must not reach."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "kernel.py"
    path.write_text(body)
    return path


SOCKET_KERNEL = """
import socket
s = socket.create_connection(("127.0.0.1", {port}), timeout=5)
print("connected")
open("reached.txt", "w").write("yes")
"""


@NEEDS_NETNS
def test_socket_fails_with_internet_off_and_works_with_it_on(tmp_path, listener):
    code = _script(tmp_path, SOCKET_KERNEL.format(port=listener))
    off = run_kernel(code, tmp_path / "off", internet=False)
    assert off.status == "ERROR" and off.isolation == "netns"
    # unshare -n leaves loopback down (unreachable); bubblewrap's own namespace has a loopback with no listener
    assert any(s in off.failure_message for s in ("Network is unreachable", "Connection refused", "OSError"))
    assert "reached.txt" not in off.outputs
    on = run_kernel(code, tmp_path / "on", internet=True)
    assert on.status == "COMPLETE", on.log_tail()
    assert (tmp_path / "on" / "reached.txt").read_text() == "yes"


def test_weak_isolation_blocks_sockets_in_python(tmp_path, listener):
    import kaggle_kit.kernels.sandbox as sb

    code = _script(tmp_path, SOCKET_KERNEL.format(port=listener))
    real = sb.netns_available
    sb.netns_available = lambda: False  # as on a machine without unshare
    try:
        with pytest.raises(sb.SandboxError, match="cannot cut"):
            run_kernel(code, tmp_path / "refused", internet=False)
        weak = run_kernel(code, tmp_path / "weak", internet=False, weak_isolation=True)
    finally:
        sb.netns_available = real
    assert weak.status == "ERROR" and weak.isolation == "guard"
    assert any("WEAK" in line for line in weak.log_tail(50))


def test_inputs_environment_outputs_and_log_format(tmp_path, monkeypatch):
    comp = tmp_path / "comp"
    (comp / "sub").mkdir(parents=True)
    (comp / "train.csv").write_text("label\n1\n")
    (comp / "sub" / "x.txt").write_text("x")
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "w.bin").write_bytes(b"\0\1")
    monkeypatch.setenv("KAGGLE_KEY", "should-not-leak")
    code = _script(tmp_path, """
import json, os, sys
root = os.environ["KK_KAGGLE_INPUT"]
files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
os.makedirs("plots", exist_ok=True)
open("plots/a.txt", "w").write("a")
json.dump({"files": files, "cwd": os.getcwd() == os.environ["KK_KAGGLE_WORKING"],
           "kaggle_env": sorted(k for k in os.environ if k.startswith("KAGGLE_") and k != "KAGGLE_KERNEL_RUN_TYPE"),
           "no_site": "site" not in sys.modules}, open("seen.json", "w"))
print("to stdout"); print("to stderr", file=sys.stderr)
""")
    mounts = input_mounts({"digit-recognizer": comp}, {"alice/weights": ds}, layout="nested")
    res = run_kernel(code, tmp_path / "out", mounts=mounts, internet=True)
    assert res.status == "COMPLETE", res.log_tail()
    seen = json.loads((tmp_path / "out" / "seen.json").read_text())
    assert seen["files"] == ["competitions/digit-recognizer/sub/x.txt", "competitions/digit-recognizer/train.csv",
                             "datasets/alice/weights/w.bin"]
    assert seen["cwd"] and seen["kaggle_env"] == [] and seen["no_site"]
    assert sorted(res.outputs) == ["plots/a.txt", "seen.json"]
    streams = {(e["stream_name"], e["data"]) for e in res.log}
    assert ("stdout", "to stdout\n") in streams and ("stderr", "to stderr\n") in streams
    assert all(set(e) == {"stream_name", "time", "data"} for e in res.log)
    flat = input_mounts({"digit-recognizer": comp}, {"alice/weights": ds}, layout="flat")
    assert [m.target for m in flat] == ["digit-recognizer", "weights"]


def test_timeout_stops_the_kernel(tmp_path):
    code = _script(tmp_path, "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n")
    res = run_kernel(code, tmp_path / "out", internet=True, timeout=1.5)
    assert res.status == "ERROR" and "timeout of 1.5 seconds" in res.failure_message
    assert res.seconds < 20


def test_runtime_finds_inputs_in_both_layouts(tmp_path, monkeypatch):
    for layout, comp_rel, ds_rel in (("nested", "competitions/digit-recognizer", "datasets/alice/w-eights"),
                                     ("flat", "digit-recognizer", "w-eights")):
        root = tmp_path / layout
        (root / comp_rel).mkdir(parents=True)
        (root / ds_rel).mkdir(parents=True)
        monkeypatch.setenv(runtime.INPUT_ENV, str(root))
        assert runtime.competition_dir("digit-recognizer") == root / comp_rel
        assert runtime.dataset_dir("alice/w-eights") == root / ds_rel
    with pytest.raises(runtime.KernelInputError, match="competition 'nope' is not mounted"):
        runtime.competition_dir("nope")
    monkeypatch.delenv(runtime.INPUT_ENV)
    assert runtime.input_root() == Path("/kaggle/input")
    monkeypatch.setenv(runtime.WORKING_ENV, str(tmp_path))
    assert runtime.working_dir() == tmp_path


def _kernel_folder(tmp_path: Path, body: str, internet: bool = False, comps=("digit-recognizer",)) -> Path:
    folder = tmp_path / "kernels" / "build" / "tiny-kernel"
    folder.mkdir(parents=True)
    (folder / "tiny-kernel.py").write_text(body)
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": "alice/tiny-kernel", "title": "tiny-kernel", "code_file": "tiny-kernel.py", "language": "python",
        "kernel_type": "script", "enable_internet": internet, "competition_sources": list(comps)}))
    return folder


@NEEDS_NETNS
def test_run_kernel_command(tmp_path, kernel_store, monkeypatch):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(kernel_store / "digit-recognizer" / "data", tmp_path / "datasets" / "digit-recognizer")
    ok = _kernel_folder(tmp_path, """
import os
root = os.environ["KK_KAGGLE_INPUT"]
print(sorted(os.listdir(os.path.join(root, "digit-recognizer"))))
open("submission.csv", "w").write("ImageId,Label\\n")
""")
    result = CliRunner().invoke(app, ["run-kernel", str(ok), "--layout", "flat", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["status"] == "COMPLETE" and payload["isolation"] == "netns"
    assert payload["outputs"] == ["submission.csv"] and (ok / "output" / "submission.csv").is_file()
    log = json.loads((ok / "output" / "kernel.log").read_text())
    assert any("sample_submission.csv" in e["data"] for e in log)

    shutil.rmtree(tmp_path / "kernels")
    bad = _kernel_folder(tmp_path, "print('working...')\nraise ValueError('the model file is broken')\n")
    result = CliRunner().invoke(app, ["run-kernel", str(bad), "--quiet"])
    assert result.exit_code == 1
    assert "ValueError: the model file is broken" in result.output and "ERROR" in result.output

    missing = _kernel_folder(tmp_path / "other", "print(1)\n", comps=("no-such-competition",))
    result = CliRunner().invoke(app, ["run-kernel", str(missing)])
    assert result.exit_code == 1 and "no-such-competition" in result.output


def test_inputs_are_read_only_like_kaggle_input(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_text("1")
    code = _script(tmp_path, """
import os
d = os.path.join(os.environ["KK_KAGGLE_INPUT"], "x")
for attempt in (lambda: os.makedirs(os.path.join(d, ".kk-cache")), lambda: open(os.path.join(d, "a.csv"), "a")):
    try:
        attempt()
        print("WROTE")
    except OSError as exc:
        print("REFUSED", exc.errno)
print(open(os.path.join(d, "a.csv")).read())
""")
    res = run_kernel(code, tmp_path / "out", mounts=[Mount(src, "x")], internet=True)
    assert res.status == "COMPLETE", res.log_tail()
    out = [e["data"].strip() for e in res.log if e["stream_name"] == "stdout" and not e["data"].startswith("[kk")]
    assert out == ["REFUSED 30", "REFUSED 30", "1"]  # EROFS both times; reading works
    assert sorted(p.name for p in src.iterdir()) == ["a.csv"] and (src / "a.csv").read_text() == "1"


def test_concurrent_sessions_share_one_kernel_site_dir(tmp_path, monkeypatch):
    """The emulator runs parallel kernels as threads of one process: a stale folder is rebuilt once, not raced."""
    from kaggle_kit.kernels.sandbox import kernel_site_dir

    # its own temp folder: staling the shared one would pull it from under kernels other tests are running
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    target = kernel_site_dir()
    assert target.parent == tmp_path / "tmp"
    (target / "zz-stale-entry").symlink_to(tmp_path)  # as if another environment had built it
    got, errors = [], []

    def build():
        try:
            got.append(kernel_site_dir())
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and set(got) == {target}
    assert not (target / "zz-stale-entry").exists() and (target / "numpy").exists()


def test_processes_building_the_kernel_site_dir_at_once_build_it_once(tmp_path):
    """Two kk processes (or pytest-xdist workers) asking for the folder at the same moment: one builds it and the
    others use that one. Swapping a second build in pulled the folder from under a kernel importing through it
    (CI, 2026-12-03: "No such file or directory: .../kk-kernel-site-.../tensorflow/...")."""
    import subprocess
    import sys

    (tmp_path / "tmp").mkdir()
    code = ("import os, sys, tempfile, time\n"
            f"tempfile.tempdir = {str(tmp_path / 'tmp')!r}\n"
            "from kaggle_kit.kernels.sandbox import kernel_site_dir\n"
            "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
            "print(os.stat(kernel_site_dir()).st_ino)\n")
    start = time.time() + 3.0  # every process past its imports, then all at once
    procs = [subprocess.Popen([sys.executable, "-c", code, str(start)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    inodes = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(inodes) == 1, f"built {len(inodes)} times: {inodes}"
