"""Putting downloaded files in place safely: archive members stay inside the target, nothing is half-written.

A download goes to a staging folder inside the target folder (same filesystem), is unzipped there with every
member checked (no absolute paths, no `..`, no links, sizes and CRCs as the archive lists them), and only then
is each file moved over its final name with one `os.replace`. A failure at any point leaves the target as it
was (the staging folder is removed; a target folder created for the download is removed again if empty).

Example:

    with staging("datasets/digit-recognizer") as stage:
        client.download_competition_zip("digit-recognizer", stage / "all.zip")
        sizes = safe_extract(stage / "all.zip", stage / "files")
        move_into_place(stage / "files", "datasets/digit-recognizer", sizes)
"""

from __future__ import annotations

import contextlib
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.io import confined
from kaggle_kit.locks import folder_lock

STAGING_PREFIX = ".kk-partial-"


def safe_member_path(root: str | Path, name: str) -> Path:
    """`root/name` if `name` is a plain relative path that stays inside `root`; a `KKError` otherwise.

    Refused: empty names, absolute paths (`/x`, `C:x`, `\\\\server\\x`), any `..` component, NUL bytes
    (`kaggle_kit.io.confined` checks each component).
    """
    text = name.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise KKError(f"refusing archive member {name!r}: it would be written outside {root}")
    return confined(root, *parts, what="archive member")


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def check_archive(zip_path: str | Path, root: str | Path) -> dict[str, int]:
    """Check every member of `zip_path` before anything is written: `{relative name: size}` of its files."""
    zip_path = Path(zip_path)
    sizes: dict[str, int] = {}
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                if _is_link(info):
                    raise KKError(f"{zip_path.name}: refusing archive member {info.filename!r}: it is a symbolic link")
                dest = safe_member_path(root, info.filename)
                if info.is_dir():
                    continue
                rel = dest.relative_to(Path(root)).as_posix()
                if rel in sizes:
                    raise KKError(f"{zip_path.name}: archive member {info.filename!r} appears twice")
                sizes[rel] = info.file_size
    except zipfile.BadZipFile as exc:
        raise KKError(f"{zip_path.name}: not a valid zip archive ({exc})") from None
    return sizes


def safe_extract(zip_path: str | Path, dest: str | Path) -> dict[str, int]:
    """Extract `zip_path` into `dest` after checking every member; returns `{relative name: size}`.

    Each file's size is checked against the archive listing and its CRC by `zipfile` while reading, so a
    truncated or corrupted archive raises a `KKError` instead of leaving a short file.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    sizes = check_archive(zip_path, dest)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                target = safe_member_path(dest, info.filename)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                written = target.stat().st_size
                if written != info.file_size:
                    raise KKError(f"{zip_path.name}: {info.filename} extracted to {written} bytes, "
                                  f"the archive lists {info.file_size}")
    except (zipfile.BadZipFile, EOFError) as exc:
        raise KKError(f"{zip_path.name}: corrupted archive ({exc})") from None
    return sizes


def move_into_place(staged: str | Path, folder: str | Path, names: dict[str, int] | list[str]) -> list[Path]:
    """Move each staged file (relative `names`) over its place in `folder`, one atomic rename each."""
    staged, folder = Path(staged), Path(folder)
    out = []
    for name in names:
        src = staged / name
        dst = safe_member_path(folder, name)
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.replace(dst)
        out.append(dst)
    return out


def clean_stale(folder: str | Path) -> None:
    """Remove staging folders left by a download that was killed (they are never valid data)."""
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def staging(folder: str | Path) -> Iterator[Path]:
    """A fresh staging folder inside `folder`, removed on exit; `folder` itself is removed on failure if this
    call created it and it is still empty."""
    folder = Path(folder)
    created = not folder.exists()
    ok = False
    # One download per folder at a time: a second one would sweep the first's staging folder away as stale.
    try:
        with folder_lock(folder, "download", beside=True):
            clean_stale(folder)
            stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
            try:
                yield stage
                ok = True
            finally:
                shutil.rmtree(stage, ignore_errors=True)
    finally:
        if not ok and created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty


def install_download(fetch: Callable[[Path], object], folder: str | Path, name: str, unzip: bool = True) -> list[Path]:
    """Download through `fetch(temp_path)` and install the result into `folder` (unzipped if it is a zip)."""
    folder = Path(folder)
    with staging(folder) as stage:
        blob = stage / Path(name).name
        fetch(blob)
        if unzip and zipfile.is_zipfile(blob):
            sizes = safe_extract(blob, stage / "files")
            return move_into_place(stage / "files", folder, sizes)
        return move_into_place(stage, folder, [blob.name])
