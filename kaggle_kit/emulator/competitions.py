"""Competitions: the read-only store, submissions and daily limits (no HTTP here; scoring is `scoring.py`).

The store holds one folder per competition, as `kaggle_kit.sample_data.write_competition` and
`make_competitions.py` write them:

    STORE/<slug>/data/...            the files Kaggle serves (train.csv, test.csv, sample_submission.csv, ...)
    STORE/<slug>/solution.csv        <id column>,<label column>,Usage   (Usage: Public / Private)
    STORE/<slug>/competition.json    {"slug", "title", "metric", "id_column", "label_column",
                                      optional "deadline" (ISO), "max_daily_submissions" (default 5),
                                      "rules_required" (default false), "code_competition" (default true),
                                      "category", "reward", "description"}

`rules_required`: until a user accepts the rules (`accept_rules`: `kk emulator accept-rules` or
`POST /_emulator/rules`), their downloads and submissions are refused with 403, as on Kaggle.
`code_competition`: whether kernel outputs may be submitted (CreateCodeSubmission); Kaggle takes code
submissions only in code competitions. The default is true so that stores written before the field existed keep
working; a store should say it explicitly.

A submission is scored when it is created (`scoring.score_submission`: the metric on the Public rows gives
`publicScore`, on the Private rows `privateScore`); it reads as PENDING until `scoring_delay` seconds have passed, and its private score stays hidden
until the competition's deadline, if it has one. A malformed file gets status ERROR and an `errorDescription`
naming the line and column at fault. Every submission, ERROR ones included, counts toward the daily limit
(UTC days), as on Kaggle.

Example (`backend` an `EmulatorBackend` over a store holding digit-recognizer):

    comps = backend.competitions
    data = open("sub.csv", "rb").read()
    upload = comps.start_submission_upload("local", "digit-recognizer", "sub.csv", len(data))
    backend.blobs.write(upload.token, [data])
    comps.create_submission("local", "digit-recognizer", upload.token, "first try").status  # COMPLETE
"""

from __future__ import annotations

import json
import os
import threading
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kaggle_kit.emulator.blobs import BlobStore, Upload
from kaggle_kit.emulator.core import (
    SLUG_RE,
    EmulatorError,
    EmulatorRoot,
    ServiceBackend,
    not_found,
    parse_datetime,
    utc_day,
)
from kaggle_kit.emulator.metrics import get_metric
from kaggle_kit.emulator.scoring import Solution, SubmissionInvalid, format_score, score_submission
from kaggle_kit.io import atomic_path, atomic_write_json
from kaggle_kit.status import SubmissionStatus

DEFAULT_DAILY_SUBMISSIONS = 5


def team_id(owner: str) -> int:
    """A team's stable id (a team is one user here)."""
    return zlib.crc32(owner.encode()) % 1_000_000


@dataclass(frozen=True)
class CompetitionInfo:
    """One competition of the store, from its `competition.json`."""

    slug: str
    title: str
    metric: str
    id_column: str
    label_column: str
    folder: Path
    deadline: float | None = None
    max_daily_submissions: int = DEFAULT_DAILY_SUBMISSIONS
    category: str = "Getting Started"
    reward: str = "Knowledge"
    description: str = ""
    created: float = 0.0
    rules_required: bool = False
    code_competition: bool = True

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def solution_file(self) -> Path:
        return self.folder / "solution.csv"

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/competitions/{self.slug}"

    @classmethod
    def load(cls, folder: Path) -> CompetitionInfo:
        meta_file = folder / "competition.json"
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{meta_file}: cannot read competition metadata ({exc})") from None
        for key in ("metric", "id_column", "label_column"):
            if not meta.get(key):
                raise ValueError(f"{meta_file}: missing field {key!r}")
        try:
            get_metric(meta["metric"])
        except KeyError as exc:
            raise ValueError(f"{meta_file}: {exc.args[0]}") from None
        for needed in ("data", "solution.csv"):
            if not (folder / needed).exists():
                raise ValueError(f"{folder}: missing {needed}")
        try:
            deadline = parse_datetime(meta.get("deadline"))
        except ValueError:
            raise ValueError(f"{meta_file}: deadline {meta.get('deadline')!r} is not an ISO date") from None
        slug = meta.get("slug") or folder.name
        if not isinstance(slug, str) or not SLUG_RE.match(slug):  # it becomes a folder name under --state
            raise ValueError(f"{meta_file}: invalid slug {slug!r} (letters, digits, '-' and '_')")
        flags = {}
        for key in ("rules_required", "code_competition"):
            if key in meta:
                if not isinstance(meta[key], bool):
                    raise ValueError(f"{meta_file}: {key} must be true or false, not {meta[key]!r}")
                flags[key] = meta[key]
        return cls(
            slug=slug,
            title=meta.get("title") or folder.name,
            metric=meta["metric"],
            id_column=meta["id_column"],
            label_column=meta["label_column"],
            folder=folder,
            deadline=deadline,
            max_daily_submissions=int(meta.get("max_daily_submissions", DEFAULT_DAILY_SUBMISSIONS)),
            category=meta.get("category", "Getting Started"),
            reward=meta.get("reward", "Knowledge"),
            description=meta.get("description", ""),
            created=meta_file.stat().st_mtime,
            **flags,
        )


@dataclass
class Submission:
    """A submission as stored: the real status and scores (what a user sees is `CompetitionsBackend.view`)."""

    ref: int
    competition: str
    owner: str
    file_name: str
    description: str
    date: float
    total_bytes: int
    status: SubmissionStatus  # COMPLETE or ERROR once scored
    reveal_at: float  # reads as PENDING until then
    public_score: float | None = None
    private_score: float | None = None
    error_description: str | None = None
    sandbox: bool = False


@dataclass(frozen=True)
class SubmissionView:
    """A submission as its owner sees it now: PENDING before `reveal_at`, private score hidden before the deadline."""

    submission: Submission
    status: SubmissionStatus
    public_score: str | None
    private_score: str | None
    error_description: str | None


class CompetitionsBackend(ServiceBackend):
    """The store's competitions (read-only) and the users' submissions to them, with scores and daily limits."""

    name = "competitions"

    def __init__(self, root: EmulatorRoot) -> None:
        super().__init__(root)
        self.competitions: dict[str, CompetitionInfo] = {}
        self.submissions: dict[int, Submission] = {}
        self.next_ref = 1000
        self.accepted: dict[str, list[str]] = {}  # competition -> users who accepted its rules
        self._solutions: dict[str, Solution] = {}
        self._archive_locks: dict[str, threading.Lock] = {}
        store = root.store_dir
        if store is not None:
            for folder in sorted(p for p in store.iterdir() if (p / "competition.json").is_file()):
                comp = CompetitionInfo.load(folder)
                self.competitions[comp.slug] = comp
                self._archive_locks[comp.slug] = threading.Lock()

    def to_state(self) -> dict[str, Any]:
        return {"next_ref": self.next_ref, "submissions": [asdict(s) for s in self.submissions.values()],
                "accepted": self.accepted}

    def load_state(self, state: dict[str, Any]) -> None:
        self.next_ref = state.get("next_ref", self.next_ref)
        self.accepted = {k: list(v) for k, v in state.get("accepted", {}).items()}
        self.submissions = {s["ref"]: Submission(**{**s, "status": SubmissionStatus(s["status"])})
                            for s in state.get("submissions", [])}

    @property
    def blobs(self) -> BlobStore:
        return self.root.service(BlobStore)

    # -- competitions ------------------------------------------------------------------------------------------------

    def get(self, slug: str) -> CompetitionInfo:
        comp = self.competitions.get(slug) if isinstance(slug, str) else None
        if comp is None:
            raise not_found(f"Competition {slug!r} not found")
        return comp

    def list(self, search: str = "", user: str | None = None, entered_only: bool = False) -> list[CompetitionInfo]:
        needle = search.lower().strip()
        comps = [c for c in self.competitions.values()
                 if not needle or needle in c.slug.lower() or needle in c.title.lower()]
        if entered_only:
            comps = [c for c in comps if self.has_entered(user, c.slug)]
        return comps

    def has_entered(self, user: str | None, slug: str) -> bool:
        return any(s.owner == user and s.competition == slug for s in self.submissions.values())

    # -- rules -------------------------------------------------------------------------------------------------------

    def has_accepted(self, user: str | None, slug: str) -> bool:
        """Whether `user` may download and submit: the rules are not required, or `user` accepted them."""
        comp = self.get(slug)
        return not comp.rules_required or (user is not None and user in self.accepted.get(slug, []))

    def require_rules(self, user: str | None, slug: str, action: str = "download files") -> CompetitionInfo:
        """The competition, or 403 when `user` has not accepted its rules yet.

        Kaggle's text for a download (its 403 body, quoted in Kaggle/kaggle-cli#152 and openai/mle-bench#29):
        "You must accept this competition's rules before you'll be able to download files."; for other actions
        the same sentence names the action.
        """
        comp = self.get(slug)
        if not self.has_accepted(user, slug):
            raise EmulatorError(403, f"You must accept this competition's rules before you'll be able to {action}.")
        return comp

    def accept_rules(self, user: str, slug: str, known_users: Iterable[str] | None = None) -> None:
        """`user` accepts `slug`'s rules (on Kaggle: the "I Understand and Accept" button; here the control API)."""
        self.get(slug)
        if known_users is not None and user not in known_users:
            raise not_found(f"User {user!r} is not one of this emulator's users")
        with self.root.lock:
            users = self.accepted.setdefault(slug, [])
            if user not in users:
                users.append(user)
                self.save()

    def team_count(self, slug: str) -> int:
        return len({s.owner for s in self.submissions.values() if s.competition == slug})

    def solution(self, slug: str) -> Solution:
        if slug not in self._solutions:
            comp = self.get(slug)
            self._solutions[slug] = Solution.read(comp.solution_file, comp.id_column, comp.label_column)
        return self._solutions[slug]

    def data_files(self, slug: str) -> list[tuple[str, Path]]:
        """`(name relative to data/, path)` for every file the competition serves, sorted by name.

        Hidden entries (a `.kk-cache/` left by reading the store with kk, editor files) are not competition data.
        """
        data = self.get(slug).data_dir
        files = []
        for p in data.rglob("*"):
            rel = p.relative_to(data)
            if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                files.append((rel.as_posix(), p))
        return sorted(files)

    def data_file(self, slug: str, name: str) -> Path:
        for rel, path in self.data_files(slug):
            if rel == name:
                return path
        raise not_found(f"File {name!r} not found in competition {slug!r}")

    def archive(self, slug: str) -> Path:
        """`<slug>.zip` of all data files, built once and cached (stable bytes and mtime while the store is unchanged)."""
        files = self.data_files(slug)
        stamp = [[rel, p.stat().st_size, p.stat().st_mtime_ns] for rel, p in files]
        target = self.folder / "archives" / slug / f"{slug}.zip"
        stamp_file = target.with_suffix(".json")
        with self._archive_locks[slug]:
            if target.exists() and stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
                return target
            newest = max((p.stat().st_mtime for _, p in files), default=self.get(slug).created)
            with atomic_path(target) as tmp:
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                    for rel, path in files:
                        zf.write(path, rel)
            os.utime(target, (newest, newest))
            atomic_write_json(stamp_file, stamp)
        return target

    def warm_archives(self) -> None:
        """Build every competition's download zip now (a full-size one takes seconds), e.g. in a background thread."""
        for slug in list(self.competitions):
            self.archive(slug)

    # -- submissions -------------------------------------------------------------------------------------------------

    def start_submission_upload(self, user: str, slug: str, file_name: str, content_length: int,
                                last_modified: int | None = None) -> Upload:
        self.require_rules(user, slug, "submit")
        return self.blobs.start_upload(user, f"submission:{slug}", file_name, content_length, last_modified)

    def limits(self, user: str, slug: str) -> dict[str, int]:
        comp = self.get(slug)
        today = utc_day(self.now())
        mine = [s for s in self.submissions.values() if s.owner == user and s.competition == slug]
        num_today = sum(utc_day(s.date) == today for s in mine)
        return {"num_today": num_today, "num_total": len(mine),
                "num_allowed_now": max(0, comp.max_daily_submissions - num_today)}

    def create_submission(self, user: str, slug: str, token: str, description: str = "",
                          sandbox: bool = False) -> Submission:
        comp = self.require_rules(user, slug, "submit")
        with self.root.lock:
            upload = self.blobs.claim(token, user, f"submission:{slug}")
            if self.limits(user, slug)["num_allowed_now"] <= 0:
                now = self.now()
                hours = (86400 - now % 86400) / 3600
                raise EmulatorError(
                    400,
                    f"Submission not allowed: your team has used its daily submission allowance "
                    f"({comp.max_daily_submissions}) today, please try again tomorrow UTC ({hours:.1f} hours from now).")
            ref = self.next_ref
            self.next_ref += 1
            now = self.now()
            path = self.blobs.materialize(upload, self.folder / "submissions" / str(ref) / upload.name)
            sub = Submission(ref=ref, competition=slug, owner=user, file_name=upload.name, description=description,
                             date=now, total_bytes=path.stat().st_size, status=SubmissionStatus.COMPLETE,
                             reveal_at=now + self.root.scoring_delay, sandbox=sandbox)
            try:
                sub.public_score, sub.private_score = score_submission(
                    self.solution(slug), get_metric(comp.metric), path.read_bytes(), upload.name)
            except SubmissionInvalid as exc:
                sub.status, sub.error_description = SubmissionStatus.ERROR, str(exc)
            self.submissions[ref] = sub
            self.save()
        return sub

    def submission(self, user: str, ref: int) -> Submission:
        sub = self.submissions.get(int(ref))
        if sub is None or sub.owner != user:
            raise not_found(f"Submission {ref} not found")
        return sub

    def list_submissions(self, user: str, slug: str) -> list[Submission]:
        self.get(slug)
        mine = [s for s in self.submissions.values() if s.owner == user and s.competition == slug]
        return sorted(mine, key=lambda s: (s.date, s.ref), reverse=True)

    def leaderboard(self, slug: str, private: bool = False) -> list[tuple[str, Submission, float]]:
        """Each team's best scored submission, best first: `(owner, submission, score)`.

        The private board is empty until the deadline (if any) has passed, as on Kaggle.
        """
        comp = self.get(slug)
        now = self.now()
        if private and comp.deadline is not None and now < comp.deadline:
            return []
        better = get_metric(comp.metric).higher_is_better
        best: dict[str, tuple[Submission, float]] = {}
        for sub in self.submissions.values():
            score = sub.private_score if private else sub.public_score
            if sub.competition != slug or sub.status is not SubmissionStatus.COMPLETE or sub.sandbox or now < sub.reveal_at or \
                    score is None:
                continue
            held = best.get(sub.owner)
            if held is None or (score > held[1] if better else score < held[1]):
                best[sub.owner] = (sub, score)
        rows = [(owner, sub, score) for owner, (sub, score) in best.items()]
        return sorted(rows, key=lambda r: (-r[2] if better else r[2], r[1].date))

    def leaderboard_archive(self, slug: str) -> Path:
        """`<slug>.zip` holding `<slug>-publicleaderboard.csv` (DownloadLeaderboard), rebuilt on every call.

        Columns as Kaggle's download: Rank, TeamId, TeamName, LastSubmissionDate, Score, SubmissionCount,
        TeamMemberUserNames (one member per team here: teams are users).
        """
        rows = self.leaderboard(slug)
        counts: dict[str, int] = {}
        for sub in self.submissions.values():
            if sub.competition == slug and not sub.sandbox:
                counts[sub.owner] = counts.get(sub.owner, 0) + 1
        lines = ["Rank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,TeamMemberUserNames"]
        for rank, (owner, sub, score) in enumerate(rows, 1):
            date = datetime.fromtimestamp(sub.date, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{rank},{team_id(owner)},{owner},{date},{format_score(score)},{counts.get(owner, 0)},{owner}")
        target = self.folder / "leaderboards" / slug / f"{slug}.zip"
        with self._archive_locks[slug], atomic_path(target) as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(f"{slug}-publicleaderboard.csv", "\n".join(lines) + "\n")
        return target

    def view(self, sub: Submission) -> SubmissionView:
        now = self.now()
        if now < sub.reveal_at:
            return SubmissionView(sub, SubmissionStatus.PENDING, None, None, None)
        deadline = self.get(sub.competition).deadline
        private_hidden = deadline is not None and now < deadline
        return SubmissionView(
            replace(sub), sub.status, format_score(sub.public_score),
            None if private_hidden else format_score(sub.private_score), sub.error_description)

