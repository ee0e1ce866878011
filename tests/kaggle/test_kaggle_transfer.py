"""Safe installation of downloads: archive members never land outside the target, failures leave nothing."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.transfer import (
    STAGING_PREFIX,
    install_download,
    safe_extract,
    safe_member_path,
    staging,
)


def _zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.mark.parametrize("name", ["../evil.txt", "data/../../evil.txt", "/etc/evil.txt", "..\\evil.txt",
                                  "C:/evil.txt", "", "a/../.."])
def test_unsafe_member_names_are_refused(tmp_path, name):
    with pytest.raises(KKError, match="outside"):
        safe_member_path(tmp_path / "target", name)


def test_safe_member_path_keeps_nested_names_inside(tmp_path):
    assert safe_member_path(tmp_path, "a/./b/c.csv") == tmp_path / "a" / "b" / "c.csv"


def test_zip_with_dotdot_member_is_refused_before_anything_is_written(tmp_path):
    archive = _zip(tmp_path / "bad.zip", {"train.csv": b"label\n1\n", "../escaped.txt": b"owned"})
    dest = tmp_path / "out" / "target"
    with pytest.raises(KKError, match=r"refusing archive member '\.\./escaped\.txt'"):
        safe_extract(archive, dest)
    assert not (tmp_path / "out" / "escaped.txt").exists()
    assert not (dest / "train.csv").exists()  # checked first, so the good member was not written either


def test_zip_with_symlink_member_is_refused(tmp_path):
    archive = _zip(tmp_path / "link.zip", {"a.csv": b"x"}, links={"passwd": "/etc/passwd"})
    with pytest.raises(KKError, match="symbolic link"):
        safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "dest" / "passwd").exists()


def test_corrupted_member_is_detected(tmp_path):
    archive = _zip(tmp_path / "ok.zip", {"train.csv": b"label,pixel0\n" + b"1,2\n" * 500})
    raw = bytearray(archive.read_bytes())
    at = raw.index(b"1,2\n1,2") + 10  # stored uncompressed: flip a data byte, the CRC no longer matches
    raw[at] ^= 0xFF
    archive.write_bytes(bytes(raw))
    with pytest.raises(KKError, match="corrupted archive"):
        safe_extract(archive, tmp_path / "dest")


def test_safe_extract_returns_sizes_of_nested_files(tmp_path):
    archive = _zip(tmp_path / "ok.zip", {"train.csv": b"12345", "extra/more.csv": b"ab"})
    assert safe_extract(archive, tmp_path / "dest") == {"train.csv": 5, "extra/more.csv": 2}
    assert (tmp_path / "dest" / "extra" / "more.csv").read_bytes() == b"ab"


def test_failed_install_leaves_no_files_and_removes_a_folder_it_created(tmp_path):
    folder = tmp_path / "datasets" / "comp"

    def fetch(dest: Path) -> None:
        dest.write_bytes(b"half a downl")
        raise KKError("connection lost")

    with pytest.raises(KKError, match="connection lost"):
        install_download(fetch, folder, "comp.zip")
    assert not folder.exists()


def test_failed_install_keeps_existing_files_untouched(tmp_path):
    folder = tmp_path / "comp"
    folder.mkdir()
    (folder / "train.csv").write_text("old")

    def fetch(dest: Path) -> None:
        _zip(dest, {"train.csv": b"new", "../x": b"y"})

    with pytest.raises(KKError, match="outside"):
        install_download(fetch, folder, "comp.zip")
    assert (folder / "train.csv").read_text() == "old"
    assert sorted(p.name for p in folder.iterdir()) == ["train.csv"]


def test_install_moves_verified_files_into_place(tmp_path):
    folder = tmp_path / "comp"
    written = install_download(lambda dest: _zip(dest, {"a.csv": b"1", "b/c.csv": b"22"}), folder, "comp.zip")
    assert sorted(p.relative_to(folder).as_posix() for p in written) == ["a.csv", "b/c.csv"]
    assert not list(folder.glob(f"{STAGING_PREFIX}*"))


def test_staging_removes_leftovers_of_a_killed_download(tmp_path):
    stale = tmp_path / f"{STAGING_PREFIX}old"
    stale.mkdir()
    (stale / "x.zip").write_bytes(b"partial")
    with staging(tmp_path) as stage:
        assert stage.parent == tmp_path
    assert not stale.exists() and not stage.exists()
