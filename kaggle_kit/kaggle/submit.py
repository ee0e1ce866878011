"""`kk submit` and `kk submissions`: validated uploads, waiting for the score, and the submission history.

A file is validated against the competition's format before anything is sent (an invalid file would waste one
of the day's submissions), the day's remaining allowance is checked, then the file is uploaded and, on request,
polled until Kaggle has scored it.

Example (against Kaggle or a running emulator):

    spec = detect_spec("datasets/digit-recognizer", load=True)
    ref = submit_file("digit-recognizer", "submission.csv", spec, "baseline")
    wait_for_score(KaggleClient(), ref, poll=5).public_score          # '0.98714'
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kaggle_kit.competition import CompetitionSpec
from kaggle_kit.errors import KKError, SubmissionError
from kaggle_kit.kaggle.client import KaggleClient
from kaggle_kit.kaggle.types import Submission
from kaggle_kit.status import SubmissionStatus
from kaggle_kit.submission import SubmissionCheck, validate_submission


@dataclass(frozen=True)
class Pick:
    """The file bare `kk submit` chose, its check, and the newer candidates it passed over (with the reason)."""

    path: Path
    check: SubmissionCheck
    skipped: list[tuple[Path, str]]
    candidates: int


def submission_candidates(competition: str, runs: str | Path | None = None,
                          cwd: str | Path | None = None) -> list[Path]:
    """`runs/<competition>/*/submission*.csv` and `./submission.csv`, newest first."""
    from kaggle_kit.project import runs_dir

    runs = Path(runs) if runs is not None else runs_dir()
    found = {p.resolve() for p in (runs / competition).glob("*/submission*.csv") if p.is_file()}
    here = Path(cwd or Path.cwd()) / "submission.csv"
    if here.is_file():
        found.add(here.resolve())
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def pick_submission(competition: str, spec: CompetitionSpec, runs: str | Path | None = None,
                    cwd: str | Path | None = None) -> Pick:
    """The newest candidate that passes validation; a `SubmissionError` listing what was tried if none does."""
    candidates = submission_candidates(competition, runs, cwd)
    skipped: list[tuple[Path, str]] = []
    for path in candidates:
        try:
            return Pick(path, validate_submission(path, spec), skipped, len(candidates))
        except SubmissionError as exc:
            skipped.append((path, exc.message))
    where = f"{Path(runs) if runs is not None else 'runs'}/{competition}/*/submission*.csv or ./submission.csv"
    if not candidates:
        raise SubmissionError(f"no submission file found (looked for {where})",
                              hint="Train and predict first (kk train), or name a file: kk submit --file FILE.")
    detail = "; ".join(f"{p}: {why}" for p, why in skipped[:3])
    raise SubmissionError(f"none of the {len(candidates)} submission files is valid ({detail})",
                          hint="Fix one or name a file: kk submit --file FILE.")


def _until_midnight_utc() -> str:
    now = datetime.now(timezone.utc)
    left = (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)) - now
    hours, rest = divmod(int(left.total_seconds()), 3600)
    return f"{hours}h{rest // 60:02d}m"


def _check_allowance(client: KaggleClient, competition: str, what: str) -> None:
    limits = client.submission_limits(competition)
    if limits.allowed_now <= 0:
        scope = "in total" if limits.limited_by_total else "today"
        raise KKError(
            f"daily submission limit reached for {competition!r}: {limits.used_today} used today, none left {scope}; "
            f"{what} was not submitted",
            hint=f"Kaggle resets the count at 00:00 UTC (in {_until_midnight_utc()}); submit again after that.",
        )


def submit_file(competition: str, path: str | Path, spec: CompetitionSpec, message: str = "",
                client: KaggleClient | None = None) -> int:
    """Validate `path` against `spec`, check the day's allowance, upload; returns the submission ref."""
    validate_submission(path, spec)  # raises before anything is sent
    client = client or KaggleClient()
    _check_allowance(client, competition, Path(path).name)
    return client.submit(competition, path, message)


def submit_kernel_output(competition: str, kernel: str, spec: CompetitionSpec, version: int | None = None,
                         file_name: str = "submission.csv", message: str = "",
                         client: KaggleClient | None = None) -> int:
    """Submit a kernel version's `file_name` output, after downloading and validating it like a local file.

    A kernel that wrote a malformed file would otherwise cost a daily submission to find out.
    """
    import tempfile

    client = client or KaggleClient()
    # Kaggle takes code submissions for a named version only; naming the newest here also means the file checked
    # below is the file submitted, even if a new version is pushed in between.
    version = version or client.kernel_current_version(kernel)
    with tempfile.TemporaryDirectory(prefix="kk-kernel-output-") as tmp:
        files = client.kernel_output(kernel, tmp, version=version, pattern=f"^{re.escape(file_name)}$")
        found = [f for f in files if f.name == file_name]
        if not found:
            raise SubmissionError(f"kernel {kernel} has no output file {file_name!r}"
                                  + (f" in version {version}" if version else ""),
                                  hint="Check the kernel's log: kk kernel-output OWNER/SLUG.")
        validate_submission(found[0], spec)
    _check_allowance(client, competition, f"kernel {kernel}")
    return client.submit_kernel(competition, kernel, version=version, file_name=file_name, message=message)


def wait_for_score(client: KaggleClient, ref: int, poll: float = 5.0, timeout: float = 1800.0,
                   on_poll: Callable[[Submission | None], None] | None = None) -> Submission:
    """Poll submission `ref` every `poll` seconds until COMPLETE or ERROR (a `KKError` for ERROR or timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        sub = client.submission(ref)
        if on_poll:
            on_poll(sub)
        if sub is not None and sub.status is SubmissionStatus.ERROR:
            raise KKError(f"submission {ref} failed to score: {sub.error or 'no reason given'}",
                          hint="Check the file with `kk validate-submission FILE`.")
        if sub is not None and sub.status is SubmissionStatus.COMPLETE:
            return sub
        if time.monotonic() + poll > deadline:
            status = sub.status if sub else "not visible yet"
            raise KKError(f"submission {ref} is still {status} after {timeout:.0f} s",
                          hint="It keeps scoring on Kaggle's side; see `kk submissions` later.")
        time.sleep(poll)
