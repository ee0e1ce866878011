"""The official `kaggle` CLI against the emulator: datasets create/version/status/files/download, resumable uploads."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from emulator_helpers import make_runner


def dataset_folder(root: Path, slug: str, files: dict[str, bytes], title: str | None = None, owner: str = "local",
                   **meta) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        old.unlink()
    for name, data in files.items():
        (root / name).write_bytes(data)
    meta = {"title": title or slug.replace("-", " ").title(), "id": f"{owner}/{slug}",
            "licenses": [{"name": "CC0-1.0"}], **meta}
    (root / "dataset-metadata.json").write_text(json.dumps(meta))
    return root


def test_create_version_status_files_download(emulator, kaggle, tmp_path):
    slug = "weights-flow"
    folder = dataset_folder(tmp_path / "ds", slug, {"a.csv": b"x,y\n1,2\n", "model.bin": bytes(range(256)) * 40})

    assert kaggle("datasets", "status", f"local/{slug}").returncode == 1  # 404 before it exists

    created = kaggle("datasets", "create", "-p", folder)
    assert created.returncode == 0, created.stderr
    assert f"Your private Dataset is being created. Please check progress at " \
           f"https://www.kaggle.com/datasets/local/{slug}" in created.stdout
    status = kaggle("datasets", "status", f"local/{slug}")
    assert (status.returncode, status.stdout.strip()) == (0, "ready")

    again = kaggle("datasets", "create", "-p", folder)
    assert again.returncode == 0 and "Dataset creation error" in again.stdout  # exit 0 on failure: check stdout

    # A new version replaces the whole file set.
    dataset_folder(folder, slug, {"a.csv": b"x,y\n3,4\n", "notes.txt": b"v2"})
    versioned = kaggle("datasets", "version", "-p", folder, "-m", "second")
    assert versioned.returncode == 0 and "Dataset version is being created" in versioned.stdout
    js = kaggle("datasets", "status", f"local/{slug}", "--format", "json(status,current_version_number)")
    assert json.loads(js.stdout) == {"status": "ready", "current_version_number": 2}

    files = kaggle("datasets", "files", f"local/{slug}")
    names = {ln.split()[0]: ln.split()[1] for ln in files.stdout.splitlines()[2:] if ln.strip()}
    assert names == {"a.csv": "8", "notes.txt": "2"}

    out = tmp_path / "dl"
    dl = kaggle("datasets", "download", f"local/{slug}", "-p", out)
    assert dl.returncode == 0 and "License(s): CC0-1.0" in dl.stdout
    with zipfile.ZipFile(out / f"{slug}.zip") as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == {"a.csv": b"x,y\n3,4\n", "notes.txt": b"v2"}
    one = kaggle("datasets", "download", f"local/{slug}", "-f", "notes.txt", "-p", tmp_path / "one")
    assert one.returncode == 0 and (tmp_path / "one" / "notes.txt").read_bytes() == b"v2"

    # Version 1 is still there, with its own files.
    v1 = kaggle("datasets", "files", f"local/{slug}/1")
    assert "model.bin" in v1.stdout and "notes.txt" not in v1.stdout

    mine = kaggle("datasets", "list", "--mine")
    assert f"local/{slug}" in mine.stdout


def test_private_dataset_is_owner_only(emulator, kaggle, tmp_path):
    slug = "private-only"
    assert kaggle("datasets", "create", "-p", dataset_folder(tmp_path / "p", slug, {"a.txt": b"a"})).returncode == 0
    public = "public-too"
    assert kaggle("datasets", "create", "-p", dataset_folder(tmp_path / "q", public, {"b.txt": b"b"}),
                  "--public").returncode == 0

    other = make_runner(emulator, tmp_path / "other-home", user="other", key="other-key")
    hidden = other("datasets", "files", f"local/{slug}")
    assert hidden.returncode == 1 and f"Dataset local/{slug} not found" in hidden.stdout + hidden.stderr
    assert other("datasets", "download", f"local/{slug}", "-p", tmp_path / "x").returncode == 1
    shown = other("datasets", "files", f"local/{public}")
    assert shown.returncode == 0 and "b.txt" in shown.stdout
    # Versioning someone else's dataset is refused even when it is public.
    other_version = other("datasets", "version", "-p", dataset_folder(tmp_path / "q", public, {"c.txt": b"c"}),
                          "-m", "hijack")
    assert other_version.returncode == 1 and "permission" in other_version.stdout + other_version.stderr


def test_upload_503_is_resumed_by_the_client(emulator, kaggle, tmp_path):
    """A 503 on the data PUT makes the client probe (`Content-Range: bytes */N`) and resume."""
    slug = "resumed-upload"
    payload = bytes(range(256)) * 64  # 16 KiB
    folder = dataset_folder(tmp_path / "r", slug, {"big.bin": payload})
    emulator.add_fault("upload", status=503)  # nothing kept: probe -> 308 without Range -> whole file again
    emulator.add_fault("upload", status=503, keep_bytes=1000)  # 1000 bytes kept: probe -> 308 Range: bytes=0-999
    before = len(emulator.calls)
    out = kaggle("datasets", "create", "-p", folder)
    assert out.returncode == 0 and "Your private Dataset is being created" in out.stdout, out.stdout
    assert "Will resume upload at 1000." in out.stdout  # 308 with Range: bytes=0-999
    seen = [(c.method, c.status) for c in emulator.calls[before:] if c.method in ("upload", "probe")]
    assert seen == [("upload", 503), ("probe", 308), ("upload", 503), ("probe", 308), ("upload", 200)]

    dl = kaggle("datasets", "download", f"local/{slug}", "-f", "big.bin", "-p", tmp_path / "dl")
    assert dl.returncode == 0 and (tmp_path / "dl" / "big.bin").read_bytes() == payload


def test_upload_500_fails_the_create(emulator, kaggle, tmp_path):
    slug = "failed-upload"
    emulator.add_fault("upload", status=500)
    out = kaggle("datasets", "create", "-p", dataset_folder(tmp_path / "f", slug, {"a.txt": b"a"}))
    # kaggle 2.2.4 printed the client's error on stdout; 2.2.5 prints it on stderr and exits 1.
    assert "Upload unsuccessful: a.txt" in out.stdout + out.stderr
    assert kaggle("datasets", "status", f"local/{slug}").returncode == 1
