"""The adapter's dataset methods (used by the weights and kernels work) against the emulator, real client."""

from __future__ import annotations

import json
import zipfile

import pytest

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.client import KaggleClient
from kaggle_kit.kaggle.credentials import find_credentials


def _dataset_folder(root, slug, files: dict[str, bytes], owner="local"):
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    (folder / "dataset-metadata.json").write_text(json.dumps(
        {"id": f"{owner}/{slug}", "title": "Weights for tests", "licenses": [{"name": "CC0-1.0"}]}))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_create_version_list_and_download(kk_env, emulator):
    client = KaggleClient(backoff=0.01)
    ref = "local/kk-test-weights"
    assert client.dataset_status(ref) is None
    folder = _dataset_folder(kk_env.project, "kk-test-weights", {"fold0.weights.h5": b"w0" * 100, "spec.json": b"{}"})
    created = client.dataset_create(folder)
    assert created.ref == ref
    assert client.dataset_status(ref) == "ready"
    assert {(f.name, f.size) for f in client.dataset_files(ref)} == {("fold0.weights.h5", 200), ("spec.json", 2)}

    _dataset_folder(kk_env.project, "kk-test-weights", {"fold0.weights.h5": b"v2" * 10, "fold1.weights.h5": b"1"})
    client.dataset_version(folder, "second fold")
    assert {f.name for f in client.dataset_files(ref)} == {"fold0.weights.h5", "fold1.weights.h5"}
    assert {f.name for f in client.dataset_files(f"{ref}/1")} == {"fold0.weights.h5", "spec.json"}

    out = kk_env.project / "downloaded"
    written = client.dataset_download(ref, out)
    assert sorted(p.name for p in written) == ["fold0.weights.h5", "fold1.weights.h5"]
    assert (out / "fold0.weights.h5").read_bytes() == b"v2" * 10
    assert sorted(p.name for p in out.iterdir()) == ["fold0.weights.h5", "fold1.weights.h5"]  # no zip, no staging


def test_existing_slug_is_an_error_not_a_silent_success(kk_env, emulator):
    client = KaggleClient(backoff=0.01)
    folder = _dataset_folder(kk_env.project, "kk-dup-dataset", {"a.csv": b"x\n1\n"})
    client.dataset_create(folder)
    with pytest.raises(KKError, match="dataset create local/kk-dup-dataset failed: .*already in use"):
        client.dataset_create(folder)


def test_failed_upload_is_reported_and_creates_nothing(kk_env, emulator):
    client = KaggleClient(retries=2, backoff=0.01)
    folder = _dataset_folder(kk_env.project, "kk-upload-fails", {"a.csv": b"x\n1\n"})
    emulator.backend.faults.add("upload", status=500, times=50)
    try:
        with pytest.raises(KKError, match=r"server error \(500\) after 3 attempts on dataset 'local/kk-upload-fails'"):
            client.dataset_create(folder)
    finally:
        emulator.backend.faults.clear()
    assert client.dataset_status("local/kk-upload-fails") is None


def test_one_failed_put_is_resumed_not_fatal(kk_env, emulator):
    # Was: one 500 on the PUT made the whole upload fail. Now the PUT resumes from the bytes the server kept.
    client = KaggleClient(backoff=0.01)
    data = bytes(range(256)) * 40
    folder = _dataset_folder(kk_env.project, "kk-upload-resumes", {"w.bin": data})
    emulator.backend.faults.add("upload", status=503, times=1, keep_bytes=1000)
    client.dataset_create(folder)
    assert emulator.backend.faults.pending() == []
    out = client.dataset_download("local/kk-upload-resumes", kk_env.project / "back")
    assert [p.read_bytes() == data for p in out] == [True]
    puts = [c.method for c in emulator.calls if c.method in ("upload", "probe")][-3:]
    assert puts == ["upload", "probe", "upload"]


def test_private_dataset_is_invisible_to_other_users(kk_env, emulator, monkeypatch):
    folder = _dataset_folder(kk_env.project, "kk-private-one", {"a.csv": b"x\n1\n"})
    KaggleClient(backoff=0.01).dataset_create(folder)
    monkeypatch.setenv("KAGGLE_USERNAME", "other")
    monkeypatch.setenv("KAGGLE_KEY", "other")
    other = KaggleClient(credentials=find_credentials(), backoff=0.01)
    assert other.dataset_status("local/kk-private-one") is None
    with pytest.raises(KKError, match="unknown dataset 'local/kk-private-one'"):
        other.dataset_download("local/kk-private-one", kk_env.project / "stolen")
    assert not (kk_env.project / "stolen").exists()


def test_dataset_download_refuses_unsafe_single_file_names(kk_env, emulator):
    # A dataset can legitimately hold a zip; downloading that one file unpacks it with the same safety checks.
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.txt", "x")
    folder = _dataset_folder(kk_env.project, "kk-evil-archive", {"evil.zip": buf.getvalue()})
    client = KaggleClient(backoff=0.01)
    client.dataset_create(folder)
    with pytest.raises(KKError, match="outside"):
        client.dataset_download("local/kk-evil-archive", kk_env.project / "dl", file_name="evil.zip")
    assert not (kk_env.project / "escape.txt").exists()
    assert not (kk_env.project / "dl").exists()


def test_an_upload_the_server_holds_whole_but_unfinished_is_finished(kk_env, emulator):
    # A PUT cut after its last byte: the server has every byte but no finished upload. An empty resume PUT
    # would go out chunked and hang; kk sends the last byte again.
    client = KaggleClient(backoff=0.01)
    folder = _dataset_folder(kk_env.project, "kk-upload-whole", {"tiny.txt": b"0123456789"})
    emulator.backend.faults.add("upload", status=503, times=1, keep_bytes=100)
    client.dataset_create(folder)
    assert {(f.name, f.size) for f in client.dataset_files("local/kk-upload-whole")} == {("tiny.txt", 10)}


def test_sub_folders_go_up_as_one_zip_each_and_metadata_never(kk_env, emulator):
    client = KaggleClient(backoff=0.01)
    folder = _dataset_folder(kk_env.project, "kk-with-folder", {"top.txt": b"top"})
    (folder / "fold0").mkdir()
    (folder / "fold0" / "model.bin").write_bytes(b"m" * 300)
    (folder / "kernel-metadata.json").write_text("{}")
    client.dataset_create(folder)
    assert {f.name for f in client.dataset_files("local/kk-with-folder")} == {"top.txt", "fold0.zip"}
    out = client.dataset_download("local/kk-with-folder", kk_env.project / "back", file_name="fold0.zip")
    assert [(p.name, p.read_bytes()) for p in out] == [("model.bin", b"m" * 300)]
