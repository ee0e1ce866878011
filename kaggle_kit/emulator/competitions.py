"""Competitions: the read-only store, submissions, scoring and daily limits (no HTTP here).

The store holds one folder per competition, as `kaggle_kit.sample_data.write_competition` and
`make_competitions.py` write them:

    STORE/<slug>/data/...            the files Kaggle serves (train.csv, test.csv, sample_submission.csv, ...)
    STORE/<slug>/solution.csv        <id column>,<label column>,Usage   (Usage: Public / Private)
    STORE/<slug>/competition.json    {"slug", "title", "metric", "id_column", "label_column",
                                      optional "deadline" (ISO), "max_daily_submissions" (default 5),
                                      "category", "reward", "description"}

A submission is scored when it is created (the metric on the Public rows gives `publicScore`, on the Private rows
`privateScore`); it reads as PENDING until `scoring_delay` seconds have passed, and its private score stays hidden
until the competition's deadline, if it has one. A malformed file gets status ERROR and an `errorDescription`
naming the line and column at fault. Every submission, ERROR ones included, counts toward the daily limit
(UTC days), as on Kaggle.

Example:
    >>> comps = backend.competitions
    >>> upload = comps.start_submission_upload("local", "digit-recognizer", "sub.csv", 1234)
    >>> backend.blobs.write(upload.token, [open("sub.csv", "rb").read()])
    >>> comps.create_submission("local", "digit-recognizer", upload.token, "first try").status
    'COMPLETE'
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import threading
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from kaggle_kit.emulator.blobs import Upload
from kaggle_kit.emulator.core import EmulatorError, ServiceBackend, not_found, parse_datetime, utc_day
from kaggle_kit.emulator.metrics import Metric, get_metric
from kaggle_kit.io import atomic_path, atomic_write_json

DEFAULT_DAILY_SUBMISSIONS = 5


class SubmissionInvalid(Exception):
    """A submission file that cannot be scored; its message becomes the submission's `errorDescription`."""


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
        return cls(
            slug=meta.get("slug") or folder.name,
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
        )


@dataclass
class Solution:
    """The hidden answers: for each (normalised) id, its label and its board (Public/Private)."""

    rows: dict[str, tuple[str, str]]

    @classmethod
    def read(cls, comp: CompetitionInfo) -> Solution:
        with open(comp.solution_file, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = {_norm_id(r[comp.id_column]): (r[comp.label_column].strip(), r.get("Usage", "Public").strip())
                    for r in reader}
        return cls(rows)


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
    status: str  # COMPLETE or ERROR once scored
    reveal_at: float  # reads as PENDING until then
    public_score: float | None = None
    private_score: float | None = None
    error_description: str | None = None
    sandbox: bool = False


@dataclass(frozen=True)
class SubmissionView:
    """A submission as its owner sees it now: PENDING before `reveal_at`, private score hidden before the deadline."""

    submission: Submission
    status: str
    public_score: str | None
    private_score: str | None
    error_description: str | None


def _norm_id(value: str) -> str:
    text = value.strip()
    try:
        return str(int(text))
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            return text
        return str(int(as_float)) if as_float.is_integer() else text


def format_score(score: float | None) -> str | None:
    """Kaggle shows scores with five decimals, as strings."""
    return None if score is None else f"{score:.5f}"


def _decode_submission(data: bytes, file_name: str) -> str:
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise SubmissionInvalid(f"{file_name}: a zipped submission must hold exactly one CSV file, "
                                            f"found {len(members)}")
                data = zf.read(members[0])
        except zipfile.BadZipFile:
            raise SubmissionInvalid(f"{file_name}: looks like a zip archive but cannot be opened") from None
    elif data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except OSError:
            raise SubmissionInvalid(f"{file_name}: looks gzip-compressed but cannot be decompressed") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionInvalid(f"{file_name}: not UTF-8 CSV text (bad byte at offset {exc.start})") from None


def score_submission(comp: CompetitionInfo, solution: Solution, metric: Metric, data: bytes,
                     file_name: str) -> tuple[float | None, float | None]:
    """`(public score, private score)` of a submission file, or `SubmissionInvalid` naming what is wrong."""
    text = _decode_submission(data, file_name)
    if not text.strip():
        raise SubmissionInvalid(f"{file_name}: the file is empty")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    expected = f"{comp.id_column},{comp.label_column}"
    for col in (comp.id_column, comp.label_column):
        if col not in header:
            raise SubmissionInvalid(f"{file_name}: required column {col!r} not found in header "
                                    f"{','.join(header)!r}; expected {expected!r}")
    extra = [h for h in header if h not in (comp.id_column, comp.label_column)]
    if extra:
        raise SubmissionInvalid(f"{file_name}: unexpected column {extra[0]!r} in header {','.join(header)!r}; "
                                f"expected exactly {expected!r}")
    id_at, label_at = header.index(comp.id_column), header.index(comp.label_column)
    predicted: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise SubmissionInvalid(f"{file_name} line {line_no}: expected {len(header)} values, found {len(row)}")
        key = _norm_id(row[id_at])
        if key not in solution.rows:
            raise SubmissionInvalid(f"{file_name} line {line_no}: {comp.id_column} {row[id_at].strip()!r} "
                                    "is not in the test set")
        if key in predicted:
            raise SubmissionInvalid(f"{file_name} line {line_no}: {comp.id_column} {row[id_at].strip()!r} appears "
                                    f"twice (first on line {first_line[key]})")
        label = row[label_at].strip()
        if not label:
            raise SubmissionInvalid(f"{file_name} line {line_no}: empty {comp.label_column} for "
                                    f"{comp.id_column} {row[id_at].strip()!r}")
        predicted[key] = label
        first_line[key] = line_no
    missing = [k for k in solution.rows if k not in predicted]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise SubmissionInvalid(f"{file_name}: {len(missing)} of {len(solution.rows)} {comp.id_column} values are "
                                f"missing ({shown}); expected {len(solution.rows)} rows, found {len(predicted)}")
    boards: dict[str, tuple[list[str], list[str]]] = {"public": ([], []), "private": ([], [])}
    for key, (truth, usage) in solution.rows.items():
        board = boards.get(usage.lower())
        if board is not None:
            board[0].append(truth)
            board[1].append(predicted[key])
    public, private = (metric.score(*boards[b]) if boards[b][0] else None for b in ("public", "private"))
    return public, private


class CompetitionsBackend(ServiceBackend):
    name = "competitions"

    def __init__(self, root) -> None:
        super().__init__(root)
        self.competitions: dict[str, CompetitionInfo] = {}
        self.submissions: dict[int, Submission] = {}
        self.next_ref = 1000
        self._solutions: dict[str, Solution] = {}
        self._archive_locks: dict[str, threading.Lock] = {}
        store = root.store_dir
        if store is not None:
            for folder in sorted(p for p in store.iterdir() if (p / "competition.json").is_file()):
                comp = CompetitionInfo.load(folder)
                self.competitions[comp.slug] = comp
                self._archive_locks[comp.slug] = threading.Lock()

    def to_state(self) -> dict[str, Any]:
        return {"next_ref": self.next_ref, "submissions": [asdict(s) for s in self.submissions.values()]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.next_ref = state.get("next_ref", self.next_ref)
        self.submissions = {s["ref"]: Submission(**s) for s in state.get("submissions", [])}

    # -- competitions ------------------------------------------------------------------------------------------------

    def get(self, slug: str) -> CompetitionInfo:
        comp = self.competitions.get(slug)
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

    def team_count(self, slug: str) -> int:
        return len({s.owner for s in self.submissions.values() if s.competition == slug})

    def solution(self, slug: str) -> Solution:
        if slug not in self._solutions:
            self._solutions[slug] = Solution.read(self.get(slug))
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
        self.get(slug)
        return self.root.blobs.start_upload(user, f"submission:{slug}", file_name, content_length, last_modified)

    def limits(self, user: str, slug: str) -> dict[str, int]:
        comp = self.get(slug)
        today = utc_day(self.now())
        mine = [s for s in self.submissions.values() if s.owner == user and s.competition == slug]
        num_today = sum(utc_day(s.date) == today for s in mine)
        return {"num_today": num_today, "num_total": len(mine),
                "num_allowed_now": max(0, comp.max_daily_submissions - num_today)}

    def create_submission(self, user: str, slug: str, token: str, description: str = "",
                          sandbox: bool = False) -> Submission:
        comp = self.get(slug)
        with self.root.lock:
            upload = self.root.blobs.claim(token, user, f"submission:{slug}")
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
            path = self.root.blobs.materialize(upload, self.folder / "submissions" / str(ref) / upload.name)
            sub = Submission(ref=ref, competition=slug, owner=user, file_name=upload.name, description=description,
                             date=now, total_bytes=path.stat().st_size, status="COMPLETE",
                             reveal_at=now + self.root.scoring_delay, sandbox=sandbox)
            try:
                sub.public_score, sub.private_score = score_submission(
                    comp, self.solution(slug), get_metric(comp.metric), path.read_bytes(), upload.name)
            except SubmissionInvalid as exc:
                sub.status, sub.error_description = "ERROR", str(exc)
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
            if sub.competition != slug or sub.status != "COMPLETE" or sub.sandbox or now < sub.reveal_at or \
                    score is None:
                continue
            held = best.get(sub.owner)
            if held is None or (score > held[1] if better else score < held[1]):
                best[sub.owner] = (sub, score)
        rows = [(owner, sub, score) for owner, (sub, score) in best.items()]
        return sorted(rows, key=lambda r: (-r[2] if better else r[2], r[1].date))

    def view(self, sub: Submission) -> SubmissionView:
        now = self.now()
        if now < sub.reveal_at:
            return SubmissionView(sub, "PENDING", None, None, None)
        deadline = self.get(sub.competition).deadline
        private_hidden = deadline is not None and now < deadline
        return SubmissionView(
            replace(sub), sub.status, format_score(sub.public_score),
            None if private_hidden else format_score(sub.private_score), sub.error_description)

