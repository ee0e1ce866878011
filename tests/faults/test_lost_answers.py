"""Issue 13, defects 3 and 8: creates whose answer is lost, uploads hit by faults, through the real commands.

The proxy loses the answer *after* the emulator acted (`drop_after`) or cuts it (`truncate`): the client cannot
tell whether its create happened. kk must look before sending it again, so one command makes one thing.
"""

from __future__ import annotations

import json

import pytest
from fault_helpers import (
    KEY,
    SLUG,
    dataset_versions_with,
    invoke,
    kernel_folder,
    staged_weights,
    submissions_with,
    versions_with,
    write_submission,
)

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.client import KaggleClient


@pytest.mark.parametrize("kind", ["drop_after", "truncate"])
def test_kk_submit_whose_answer_is_lost_submits_once(world, store, emulator, proxy, kind):
    sub = write_submission(store, world / "submission.csv")
    proxy.script("CreateSubmission", kind)
    result = invoke("submit", SLUG, "--file", str(sub), "-m", f"lost answer {kind}", "--data-dir", str(store / SLUG / "data"))
    assert result.exit_code == 0, result.output
    made = submissions_with(emulator, f"lost answer {kind}")
    assert len(made) == 1
    assert f"submission {made[0].ref}" in result.output
    assert [k for k, line in proxy.faulted] == [kind]  # found by the lookup: never sent again


def test_kk_submit_with_a_server_error_after_a_lost_answer_still_submits_once(world, store, emulator, proxy):
    sub = write_submission(store, world / "submission.csv")
    proxy.script("CreateSubmission", "drop_after")
    emulator.backend.faults.add("ListSubmissions", status=500, times=2)  # the lookups are retried too
    result = invoke("submit", SLUG, "--file", str(sub), "-m", "mixed faults", "--data-dir", str(store / SLUG / "data"))
    assert result.exit_code == 0, result.output
    assert len(submissions_with(emulator, "mixed faults")) == 1


def test_kernel_push_whose_answer_is_lost_makes_one_version_and_reports_it(world, emulator, proxy):
    body = "print('pushed once')\n"
    folder = kernel_folder(world, "lost-push", body)
    proxy.script("SaveKernel", "drop_before")  # not acted on: the lookup finds nothing, the push is sent again
    proxy.script("SaveKernel", "drop_after")
    pushed = KaggleClient().kernel_push(folder)
    assert versions_with(emulator, "local/lost-push", body) == [pushed.version] == [1]

    second = "print('second push')\n"
    (folder / "lost-push.py").write_text(second)
    proxy.script("SaveKernel", "truncate")
    pushed = KaggleClient().kernel_push(folder)
    assert versions_with(emulator, "local/lost-push", second) == [pushed.version] == [2]


def test_a_kernel_push_reported_as_failed_made_no_version(world, emulator, proxy):
    folder = kernel_folder(world, "never-pushed", "print(1)\n")
    proxy.script("SaveKernel", "drop_before", times=10)
    with pytest.raises(KKError, match=r"after 6 attempts; nothing was created"):
        KaggleClient().kernel_push(folder)
    assert "local/never-pushed" not in emulator.backend.kernels.kernels


def test_upload_weights_survives_a_fault_at_every_step(world, emulator, proxy):
    from kaggle_kit.kernels.weights import upload_weights

    files = {"fold0-model.keras": bytes(range(256)) * 64, "manifest.json": b"{}"}
    staged = staged_weights(world, "kk-weights-faults", files)
    first = upload_weights(KaggleClient(), staged, "first", poll=0.01)
    assert (first.created, first.version) == (True, 1)

    staged = staged_weights(world, "kk-weights-faults", {**files, "fold1-model.keras": b"w" * 5000})
    for step in ("StartBlobUpload", "CreateDatasetVersion", "GetDatasetStatus", "GetDataset"):
        emulator.backend.faults.add(step, status=503, times=1)
    emulator.backend.faults.add("upload", status=503, times=1, keep_bytes=2000)
    proxy.script("StartBlobUpload", "truncate")
    proxy.script("/upload/", "drop_after")
    proxy.script("CreateDatasetVersion", "drop_after")
    proxy.script("GetDatasetStatus", "drop_before")
    second = upload_weights(KaggleClient(), staged, "second", poll=0.01)
    assert (second.created, second.version) == (False, 2)
    assert dataset_versions_with(emulator, "local/kk-weights-faults", "second") == [2]
    assert emulator.backend.faults.pending() == []
    listed = {f.name: f.size for f in KaggleClient().dataset_files("local/kk-weights-faults")}
    assert listed == {name: len(data) for name, data in {**files, "fold1-model.keras": b"w" * 5000}.items()}


def test_a_failed_kk_submit_says_how_many_attempts_and_that_nothing_was_made_without_the_key(
        world, store, emulator, proxy, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "keyed")
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    sub = write_submission(store, world / "submission.csv")
    proxy.script("CreateSubmission", "drop_before", times=6)
    result = invoke("submit", SLUG, "--file", str(sub), "-m", "never made", "--data-dir", str(store / SLUG / "data"))
    assert result.exit_code == 1
    assert "was lost" in result.output and "after 6 attempts; nothing was created" in result.output
    assert KEY not in result.output
    assert submissions_with(emulator, "never made") == []


def test_a_push_that_cannot_be_checked_is_reported_as_maybe_made(world, emulator, proxy):
    body = "print('maybe')\n"
    folder = kernel_folder(world, "unknowable-push", body)
    proxy.script("GetKernel", "pass")  # the read before the push
    proxy.script("SaveKernel", "drop_after")
    proxy.script("GetKernel", "drop_before", times=6)  # every lookup after it
    with pytest.raises(KKError) as failed:
        KaggleClient().kernel_push(folder)
    assert "may have been created" in str(failed.value)
    assert versions_with(emulator, "local/unknowable-push", body) == [1]


def test_a_code_submission_whose_answer_is_lost_submits_once(world, emulator, proxy):
    import time

    body = "open('submission.csv', 'w').write('ImageId,Label\\n1,3\\n')\n"
    folder = kernel_folder(world, "code-sub", body)
    meta = json.loads((folder / "kernel-metadata.json").read_text())
    (folder / "kernel-metadata.json").write_text(json.dumps({**meta, "competition_sources": [SLUG]}))
    client = KaggleClient()
    pushed = client.kernel_push(folder)
    deadline = time.monotonic() + 60
    while client.kernel_status(pushed.ref, pushed.version).status != "COMPLETE":
        assert time.monotonic() < deadline, "the kernel did not finish"
        time.sleep(0.2)
    before = set(emulator.backend.competitions.submissions)
    proxy.script("CreateCodeSubmission", "drop_after")
    ref = client.submit_kernel(SLUG, pushed.ref, version=pushed.version)  # no message: the server names it
    assert set(emulator.backend.competitions.submissions) - before == {ref}
