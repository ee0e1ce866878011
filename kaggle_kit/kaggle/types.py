"""What the Kaggle services answer, as kk's own frozen dataclasses, and the references calls take.

Each result type is built from the official client's response object by `from_api`; statuses are the shared
`kaggle_kit.status` enums, which compare equal to the wire's strings.

Example:
    >>> split_ref("me/digit-weights/3", "dataset")
    ('me', 'digit-weights', 3)
    >>> KernelSession(KernelStatus("RUNNING")).status.finished
    False
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaggle_kit.errors import KKError
from kaggle_kit.status import KernelStatus, SubmissionStatus

Progress = Callable[[int, "int | None"], None]  # (bytes done, bytes expected or None)


def enum_name(value: Any) -> str:
    """The wire word of a kagglesdk enum member (`SubmissionStatus.COMPLETE` -> `'COMPLETE'`)."""
    return getattr(value, "name", None) or str(value)


def _iso(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@dataclass(frozen=True)
class RemoteFile:
    """A file as the server lists it."""

    name: str
    size: int
    created: str | None = None

    @classmethod
    def from_api(cls, f: Any) -> RemoteFile:
        return cls(f.name, int(f.total_bytes or 0), _iso(f.creation_date))


@dataclass(frozen=True)
class Submission:
    """One competition submission. Scores are strings, as Kaggle sends them (None until scored)."""

    ref: int
    status: SubmissionStatus
    public_score: str | None = None
    private_score: str | None = None
    description: str | None = None
    date: str | None = None
    file_name: str | None = None
    error: str | None = None

    @classmethod
    def from_api(cls, s: Any) -> Submission:
        return cls(ref=int(s.ref), status=SubmissionStatus(enum_name(s.status)),
                   public_score=s.public_score or None, private_score=s.private_score or None,
                   description=s.description, date=_iso(s.date), file_name=s.file_name,
                   error=s.error_description or None)


@dataclass(frozen=True)
class SubmissionLimits:
    """The day's submission allowance of a competition for this user."""

    used_today: int
    allowed_now: int
    total: int
    limited_by_total: bool = False

    @classmethod
    def from_api(cls, r: Any) -> SubmissionLimits:
        return cls(int(r.num_today or 0), int(r.num_allowed_now or 0), int(r.num_total or 0),
                   bool(r.limited_by_total))


@dataclass(frozen=True)
class LeaderboardEntry:
    """One team on a competition's public leaderboard; `rank` counts from 1 in the server's order (best first)."""

    rank: int
    team_id: int
    team_name: str
    score: str | None
    date: str | None = None

    @classmethod
    def from_api(cls, rank: int, s: Any) -> LeaderboardEntry:
        return cls(rank, int(s.team_id or 0), s.team_name or "", s.score or None, _iso(s.submission_date))


@dataclass(frozen=True)
class Blob:
    """A downloaded blob: where it went, how big it is, and the server's Last-Modified (RFC 1123) if any."""

    path: Path
    size: int
    last_modified: str | None = None


@dataclass(frozen=True)
class DatasetResult:
    """A dataset just created or given a new version."""

    ref: str
    url: str | None = None


@dataclass(frozen=True)
class KernelPush:
    """A kernel version just pushed: its `owner/slug`, page and version number."""

    ref: str
    url: str | None
    version: int | None


@dataclass(frozen=True)
class KernelSession:
    """A kernel version's session as the server reports it: its status and, after an ERROR, why."""

    status: KernelStatus
    failure_message: str | None = None

    @classmethod
    def from_api(cls, r: Any) -> KernelSession:
        return cls(KernelStatus(enum_name(r.status)), r.failure_message or None)


def split_ref(ref: str, kind: str) -> tuple[str, str, int | None]:
    """`owner/slug[/version]` -> (owner, slug, version or None); `kind` names it in the error."""
    parts = ref.strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise KKError(f"{kind} {ref!r} should look like OWNER/SLUG (or OWNER/SLUG/VERSION)")
    version = None
    if len(parts) == 3:
        try:
            version = int(parts[2].lstrip("v"))
        except ValueError:
            raise KKError(f"{kind} {ref!r}: version {parts[2]!r} is not a number") from None
    return parts[0], parts[1], version


def metadata_ref(folder: Path, name: str) -> str:
    """The `id` (OWNER/SLUG) of `folder/name` (`dataset-metadata.json`, `kernel-metadata.json`)."""
    meta = folder / name
    if not meta.is_file():
        raise KKError(f"{meta}: metadata file not found")
    try:
        data = json.loads(meta.read_text())
    except ValueError as exc:
        raise KKError(f"{meta}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data.get("id"):
        raise KKError(f"{meta}: field 'id' (OWNER/SLUG) is missing")
    return str(data["id"])
