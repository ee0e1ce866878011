"""`kk download`: a competition's files into `datasets/<competition>/`, verified, once.

The all-files zip is downloaded into a staging folder inside the target, checked and unzipped there (members
that would land outside the target are refused), every file's size is checked against the zip listing and the
server's file list, and only then are the files moved into place. A marker, `.kk-download.json`, records the
server's file list (names, sizes, creation dates) and the local sizes: a later run that finds the same list on
the server and the same files on disk downloads nothing.

Example (against Kaggle or a running emulator):

    result = download_competition("digit-recognizer", "datasets/digit-recognizer")
    result.downloaded, sorted(result.files)      # (True, ['sample_submission.csv', 'test.csv', 'train.csv'])
    download_competition("digit-recognizer", "datasets/digit-recognizer").downloaded      # False
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.io import atomic_write_json
from kaggle_kit.kaggle.client import KaggleClient
from kaggle_kit.kaggle.transfer import move_into_place, safe_extract, staging
from kaggle_kit.kaggle.types import RemoteFile

MARKER = ".kk-download.json"


def _reserved(name: str) -> bool:
    """kk's own files (`.kk-cache/`, the marker, staging folders): never taken from a server's archive."""
    return name.split("/", 1)[0].startswith(".kk-")


@dataclass(frozen=True)
class DownloadResult:
    """What `download_competition` did: `downloaded` is False when the local copy was already current."""

    competition: str
    folder: Path
    downloaded: bool
    files: dict[str, int] = field(default_factory=dict)
    bytes_fetched: int = 0
    seconds: float = 0.0

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())


def _server_listing(files: list[RemoteFile]) -> list[dict]:
    return sorted(({"name": f.name, "size": f.size, "created": f.created} for f in files), key=lambda d: d["name"])


def read_marker(folder: str | Path) -> dict | None:
    path = Path(folder) / MARKER
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def up_to_date(folder: str | Path, competition: str, server_files: list[RemoteFile]) -> bool:
    """True when the marker matches the server's current file list and every recorded file is on disk intact."""
    folder = Path(folder)
    marker = read_marker(folder)
    if not marker or marker.get("competition") != competition:
        return False
    if marker.get("server_files") != _server_listing(server_files):
        return False
    local = marker.get("files") or {}
    if not local:
        return False
    for name, size in local.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def verify_against_server(extracted: dict[str, int], server_files: list[RemoteFile], archive: str) -> None:
    """Every file the server lists must be in the archive with the listed size."""
    for f in server_files:
        if f.name not in extracted:
            raise KKError(f"{archive}: the server lists {f.name} ({f.size} bytes) but the archive does not contain it")
        if f.size and extracted[f.name] != f.size:
            raise KKError(f"{archive}: {f.name} is {extracted[f.name]} bytes, the server lists {f.size}")


def download_competition(competition: str, folder: str | Path, force: bool = False,
                         client: KaggleClient | None = None,
                         progress: Callable[[int, int | None], None] | None = None) -> DownloadResult:
    """Download and install every data file of `competition` into `folder` (unless it is already current).

    `progress(done_bytes, total_bytes_or_None)` is called as the archive arrives. The folder receives the
    competition's files and the marker; nothing else in it is touched.
    """
    folder = Path(folder)
    client = client or KaggleClient()
    server_files = [f for f in client.competition_files(competition) if not _reserved(f.name)]
    if not force and up_to_date(folder, competition, server_files):
        marker = read_marker(folder) or {}
        return DownloadResult(competition, folder, downloaded=False, files=dict(marker.get("files", {})))

    started = time.perf_counter()
    archive = f"{competition}.zip"
    with staging(folder) as stage:
        zip_path = stage / archive
        blob = client.download_competition_zip(competition, zip_path, progress=progress)
        extracted = {k: v for k, v in safe_extract(zip_path, stage / "files").items() if not _reserved(k)}
        if not extracted:
            raise KKError(f"{archive}: the archive holds no files")
        verify_against_server(extracted, server_files, archive)
        zip_path.unlink()
        move_into_place(stage / "files", folder, extracted)
    atomic_write_json(folder / MARKER, {
        "competition": competition,
        "source": client.url or "https://www.kaggle.com",
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "archive": {"name": archive, "size": blob.size, "last_modified": blob.last_modified},
        "server_files": _server_listing(server_files),
        "files": dict(sorted(extracted.items())),
    })
    return DownloadResult(competition, folder, downloaded=True, files=extracted, bytes_fetched=blob.size,
                          seconds=time.perf_counter() - started)


def ensure_project(competition: str, datasets_dir: str | Path, owner: str | None) -> Path | None:
    """Write `kk.toml` in the current folder on a first download when no project file exists (here or above).

    Returns the path written, or None when one already existed.
    """
    from kaggle_kit.project import find_project, init_project

    if find_project() is not None:
        return None
    path, written = init_project(competition, owner=owner, datasets_dir=Path(datasets_dir).as_posix().rstrip("/"))
    return path if written else None
