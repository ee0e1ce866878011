"""The client's kernel calls against the emulator (which runs the kernel here): push, status, output, pull."""

from __future__ import annotations

import json
import time

import pytest

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.client import KaggleClient

MANY_FILES = """
for i in range(130):  # more than one page of output (the client asks for 100 a page)
    open(f"out-{i:03d}.txt", "w").write(str(i))
open("submission.csv", "w").write("ImageId,Label\\n1,3\\n")
print("wrote 131 files")
"""


def _kernel_folder(root, slug: str, body: str, **meta):
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.py").write_text(body)
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": f"local/{slug}", "title": slug, "code_file": f"{slug}.py", "language": "python",
        "kernel_type": "script", "enable_internet": False, **meta}))
    return folder


def _wait(client: KaggleClient, ref: str, version: int | None = None, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = client.kernel_status(ref, version)
        if session.status in ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED"):
            return session
        time.sleep(0.2)
    raise AssertionError(f"{ref} did not finish")


def test_push_wait_and_every_page_of_output(kk_env, emulator):
    client = KaggleClient(backoff=0.01)
    pushed = client.kernel_push(_kernel_folder(kk_env.project, "many-outputs", MANY_FILES))
    assert (pushed.ref, pushed.version) == ("local/many-outputs", 1)
    assert _wait(client, pushed.ref, pushed.version).status == "COMPLETE"

    out = kk_env.project / "out"
    written = client.kernel_output(pushed.ref, out, version=pushed.version)
    assert len(written) == 132  # 131 files over two pages, and the log
    assert (out / "out-129.txt").read_text() == "129"
    log = json.loads((out / "many-outputs.log").read_text())
    assert any(e["data"] == "wrote 131 files\n" for e in log)
    only = client.kernel_output(pushed.ref, kk_env.project / "only", pattern=r"^submission\.csv$")
    assert sorted(p.name for p in only) == ["many-outputs.log", "submission.csv"]

    pulled = client.kernel_pull(pushed.ref, kk_env.project / "pulled")
    assert "open(f\"out-{i:03d}.txt\"" in (pulled / "many-outputs.py").read_text()


def test_a_failing_kernel_reports_error_and_its_message(kk_env, emulator):
    client = KaggleClient(backoff=0.01)
    pushed = client.kernel_push(_kernel_folder(kk_env.project, "fails", "import sys\nsys.exit('bad input: 42')\n"))
    session = _wait(client, pushed.ref)
    assert session.status == "ERROR"
    assert "bad input: 42" in (session.failure_message or "")


def test_a_push_with_sources_the_server_rejects_is_an_error(kk_env, emulator):
    folder = _kernel_folder(kk_env.project, "bad-sources", "print(1)\n", dataset_sources=["local/no-such-dataset"])
    with pytest.raises(KKError, match=r"the server rejected dataset sources: local/no-such-dataset"):
        KaggleClient(backoff=0.01).kernel_push(folder)
