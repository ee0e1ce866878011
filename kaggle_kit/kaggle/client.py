"""The one door to Kaggle: `KaggleClient`, a thin facade over the transport and the three service clients.

Every kk command that talks to Kaggle goes through `KaggleClient`. The work is split as kagglesdk splits it:

    credentials.py   who kk talks as (`find_credentials`), and redaction of the key
    routing.py       kaggle.com or a local emulator (`KK_KAGGLE_URL`)
    errors.py        HTTP statuses and lost connections as `KKError`s that say what to do
    transport.py     the official client per call, one retry policy, `rpc`, `paginate`, blob transfers
    types.py         the result types and `split_ref`
    competitions.py  data files, submissions, scores
    datasets.py      create, version, status, files, download
    kernels.py       push, session status, outputs, pull

The facade's methods are the services' methods under their full names (`client.submit` is
`client.competitions.submit`, `client.dataset_files` is `client.datasets.files`).

Example (against a running emulator, `KK_KAGGLE_URL` set):

    client = KaggleClient()                        # KKError if no credentials
    [f.name for f in client.competition_files("digit-recognizer")]
    # ['sample_submission.csv', 'test.csv', 'train.csv']
    ref = client.submit("digit-recognizer", "submission.csv", "first try")
    client.submission(ref).status                  # SubmissionStatus.COMPLETE once scored
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.competitions import CompetitionsClient
from kaggle_kit.kaggle.credentials import Credentials, find_credentials
from kaggle_kit.kaggle.datasets import DatasetsClient
from kaggle_kit.kaggle.kernels import KernelsClient
from kaggle_kit.kaggle.routing import emulator_url
from kaggle_kit.kaggle.transport import RetryPolicy, Transport
from kaggle_kit.kaggle.types import (
    Blob,
    DatasetResult,
    KernelPush,
    KernelSession,
    LeaderboardEntry,
    Progress,
    RemoteFile,
    Submission,
    SubmissionLimits,
)

BACKOFF_ENV = "KK_RETRY_BACKOFF"


def _env_backoff() -> float:
    text = os.environ.get(BACKOFF_ENV, "").strip()
    try:
        value = float(text) if text else 0.5
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 60.0:
        raise KKError(f"{BACKOFF_ENV}={text!r}: give the first retry delay in seconds (0-60), e.g. 0.5")
    return value


class KaggleClient:
    """The official client, configured per call, with retries, clear errors and result checks.

    Args:
        credentials: default `find_credentials()` (raises a `KKError` naming where to put them).
        url: an emulator's `http://HOST:PORT`; default `$KK_KAGGLE_URL`, else kaggle.com.
        retries: attempts after the first one for retriable failures.
        backoff: first delay in seconds; doubles each attempt, capped at `max_backoff` (also caps Retry-After).
            Default `$KK_RETRY_BACKOFF`, else 0.5 (the fault-injection suites run the real commands with 0.01).
        sleep: how to wait between attempts.

    Example (against a running emulator):

        client = KaggleClient(url="http://127.0.0.1:8765", backoff=0.05)
        client.submission_limits("digit-recognizer").allowed_now      # 5
        client.kernel_status("local/my-kernel").status.finished       # True once COMPLETE, ERROR or cancelled
    """

    def __init__(self, credentials: Credentials | None = None, url: str | None | object = ...,
                 retries: int = 5, backoff: float | None = None, max_backoff: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep):
        resolved: str | None = emulator_url() if url is ... else url  # type: ignore[assignment]
        if backoff is None:
            backoff = _env_backoff()
        self.transport = Transport(credentials or find_credentials(), resolved,
                                   RetryPolicy(retries, backoff, max_backoff), sleep)
        self.competitions = CompetitionsClient(self.transport)
        self.datasets = DatasetsClient(self.transport)
        self.kernels = KernelsClient(self.transport)

    @property
    def url(self) -> str | None:
        """The emulator this client talks to, or None for kaggle.com."""
        return self.transport.url

    @property
    def credentials(self) -> Credentials:
        return self.transport.credentials

    @property
    def username(self) -> str | None:
        return self.transport.username

    @property
    def where(self) -> str:
        """"Kaggle" or "the Kaggle emulator at URL", for messages."""
        return self.transport.where

    # -- competitions -----------------------------------------------------------------------------------------

    def competition_files(self, competition: str) -> list[RemoteFile]:
        return self.competitions.files(competition)

    def download_competition_zip(self, competition: str, dest: str | Path, progress: Progress | None = None) -> Blob:
        return self.competitions.download_zip(competition, dest, progress)

    def submission_limits(self, competition: str) -> SubmissionLimits:
        return self.competitions.submission_limits(competition)

    def submit(self, competition: str, path: str | Path, message: str = "") -> int:
        return self.competitions.submit(competition, path, message)

    def submit_kernel(self, competition: str, kernel: str, version: int | None = None,
                      file_name: str = "submission.csv", message: str = "") -> int:
        return self.competitions.submit_kernel(competition, kernel, version, file_name, message)

    def submission(self, ref: int, competition: str | None = None) -> Submission | None:
        return self.competitions.submission(ref, competition)

    def submissions(self, competition: str) -> list[Submission]:
        return self.competitions.submissions(competition)

    def competition_leaderboard(self, competition: str, limit: int | None = None) -> list[LeaderboardEntry]:
        return self.competitions.leaderboard(competition, limit)

    # -- datasets ---------------------------------------------------------------------------------------------

    def dataset_version_number(self, ref: str) -> int | None:
        return self.datasets.version_number(ref)

    def dataset_status(self, ref: str) -> str | None:
        return self.datasets.status(ref)

    def dataset_create(self, folder: str | Path, public: bool = False, dir_mode: str = "zip") -> DatasetResult:
        return self.datasets.create(folder, public, dir_mode)

    def dataset_version(self, folder: str | Path, notes: str, delete_old_versions: bool = False,
                        dir_mode: str = "zip") -> DatasetResult:
        return self.datasets.version(folder, notes, delete_old_versions, dir_mode)

    def dataset_files(self, ref: str) -> list[RemoteFile]:
        return self.datasets.files(ref)

    def dataset_download(self, ref: str, path: str | Path, file_name: str | None = None,
                         progress: Progress | None = None) -> list[Path]:
        return self.datasets.download(ref, path, file_name, progress)

    # -- kernels ----------------------------------------------------------------------------------------------

    def kernel_push(self, folder: str | Path, timeout: int | None = None,
                    accelerator: str | None = None) -> KernelPush:
        return self.kernels.push(folder, timeout, accelerator)

    def kernel_current_version(self, ref: str) -> int:
        return self.kernels.current_version(ref)

    def kernel_status(self, ref: str, version: int | None = None) -> KernelSession:
        return self.kernels.status(ref, version)

    def kernel_output(self, ref: str, path: str | Path, version: int | None = None,
                      pattern: str | None = None) -> list[Path]:
        return self.kernels.output(ref, path, version, pattern)

    def kernel_pull(self, ref: str, path: str | Path, metadata: bool = True) -> Path:
        return self.kernels.pull(ref, path, metadata)
