"""The competitions service: data files, the all-files download, submissions and their scores.

Example (against a running emulator, `KK_KAGGLE_URL` set):

    competitions = CompetitionsClient(Transport(find_credentials(), emulator_url()))
    ref = competitions.submit("digit-recognizer", Path("submission.csv"), "first try")
    competitions.submission(ref).status          # SubmissionStatus.COMPLETE once scored
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.errors import Target
from kaggle_kit.kaggle.transport import Transport
from kaggle_kit.kaggle.types import (
    Blob,
    LeaderboardEntry,
    Progress,
    RemoteFile,
    Submission,
    SubmissionLimits,
    split_ref,
)


def _api(kaggle):
    return kaggle.competitions.competition_api_client


class CompetitionsClient:
    """Calls of kagglesdk's `CompetitionApiService`, over `transport`."""

    def __init__(self, transport: Transport):
        self.transport = transport

    def files(self, competition: str) -> list[RemoteFile]:
        """Every data file of `competition` (all pages) as the server lists it."""
        from kagglesdk.competitions.types.competition_api_service import ApiListDataFilesRequest

        req = ApiListDataFilesRequest()
        req.competition_name = competition
        pages = self.transport.paginate(lambda k: _api(k).list_data_files, req, Target("competition", competition),
                                        page_size=200)
        return [RemoteFile.from_api(f) for page in pages for f in page.files or []]

    def download_zip(self, competition: str, dest: str | Path, progress: Progress | None = None) -> Blob:
        """Download the competition's all-files zip into `dest` (written in place; callers pass a temp path)."""
        from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFilesRequest

        req = ApiDownloadDataFilesRequest()
        req.competition_name = competition
        return self.transport.download(lambda k: _api(k).download_data_files, req, Path(dest),
                                       Target("competition", competition), progress)

    def submission_limits(self, competition: str) -> SubmissionLimits:
        """How many submissions this user made today and may still make."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionLimitsRequest

        req = ApiGetSubmissionLimitsRequest()
        req.competition_name = competition
        r = self.transport.rpc(lambda k: _api(k).get_submission_limits, req, Target("competition", competition))
        return SubmissionLimits.from_api(r)

    def submit(self, competition: str, path: str | Path, message: str = "") -> int:
        """Upload `path` as a submission (start upload, PUT the bytes, create); returns the submission ref.

        Each step is retried on its own; the PUT resumes. The create is sent again only when the submissions
        list shows that the lost attempt did not create one, so a flaky network never spends two submissions.

        The file is sent as is: validate it first (`kaggle_kit.kaggle.submit` does).
        """
        from kagglesdk.competitions.types.competition_api_service import (
            ApiCreateSubmissionRequest,
            ApiStartSubmissionUploadRequest,
        )

        path = Path(path)
        target = Target("competition", competition)
        start = ApiStartSubmissionUploadRequest()
        start.competition_name = competition
        start.file_name = path.name
        start.content_length = path.stat().st_size
        start.last_modified_epoch_seconds = int(path.stat().st_mtime)
        token = self.transport.upload(
            lambda: self.transport.rpc(lambda k: _api(k).start_submission_upload, start, target), path, target)

        create = ApiCreateSubmissionRequest()
        create.competition_name = competition
        create.blob_file_tokens = token
        if message:
            create.submission_description = message
        created = self.transport.rpc(lambda k: _api(k).create_submission, create, target, idempotent=False,
                                     lookup=self._new_submission(competition, path.name, message))
        if isinstance(created, int):
            return created
        if not created.ref:
            raise KKError(f"{self.transport.where} did not accept the submission to {competition!r}: "
                          f"{self.transport.credentials.redact(created.message or 'no submission ref returned')}")
        return int(created.ref)

    def submit_kernel(self, competition: str, kernel: str, version: int | None = None,
                      file_name: str = "submission.csv", message: str = "") -> int:
        """Submit a kernel version's output file (code-competition style); returns the submission ref."""
        from kagglesdk.competitions.types.competition_api_service import ApiCreateCodeSubmissionRequest

        owner, slug, v = split_ref(kernel, "kernel")
        version = version or v
        req = ApiCreateCodeSubmissionRequest()
        req.competition_name = competition
        req.kernel_owner = owner
        req.kernel_slug = slug
        req.file_name = file_name
        if version:
            req.kernel_version = int(version)
        if message:
            req.submission_description = message
        created = self.transport.rpc(lambda k: _api(k).create_code_submission, req,
                                     Target("competition", competition), idempotent=False,
                                     lookup=self._new_submission(competition, file_name, message))
        if isinstance(created, int):
            return created
        if not created.ref:
            raise KKError(f"{self.transport.where} did not accept kernel {owner}/{slug} as a submission to "
                          f"{competition!r}: "
                          f"{self.transport.credentials.redact(created.message or 'no submission ref returned')}")
        return int(created.ref)

    def _new_submission(self, competition: str, file_name: str, message: str) -> Callable[[], int | None]:
        """A lookup for a create whose answer was lost: the ref of a submission that was not there before, with
        this file name and description (None: the create did not happen). Without a message any description
        matches: Kaggle may fill in its own (a code submission's names the kernel version)."""
        before = {s.ref for s in self.submissions(competition)}

        def lookup() -> int | None:
            for s in self.submissions(competition):
                if s.ref not in before and s.file_name == file_name and (not message or s.description == message):
                    return s.ref
            return None

        return lookup

    def submission(self, ref: int, competition: str | None = None) -> Submission | None:
        """One submission by ref; None while the server does not know it yet (404, as the official client does)."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionRequest

        req = ApiGetSubmissionRequest()
        req.ref = int(ref)
        target = Target("submission", f"{ref}" + (f" of {competition}" if competition else ""))
        s = self.transport.rpc(lambda k: _api(k).get_submission, req, target, missing_ok=True)
        return None if s is None else Submission.from_api(s)

    def submissions(self, competition: str) -> list[Submission]:
        """Every submission to `competition` by this user (newest first, all pages)."""
        from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

        req = ApiListSubmissionsRequest()
        req.competition_name = competition
        pages = self.transport.paginate(lambda k: _api(k).list_submissions, req, Target("competition", competition))
        return [Submission.from_api(s) for page in pages for s in page.submissions or []]

    def leaderboard(self, competition: str, limit: int | None = None) -> list[LeaderboardEntry]:
        """The public leaderboard, best first (the call behind the official `competition_leaderboard_view`);
        every page unless `limit` entries are enough."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetLeaderboardRequest

        req = ApiGetLeaderboardRequest()
        req.competition_name = competition
        out: list[LeaderboardEntry] = []
        for page in self.transport.paginate(lambda k: _api(k).get_leaderboard, req,
                                            Target("competition", competition), page_size=200):
            out += [LeaderboardEntry.from_api(len(out) + i + 1, s) for i, s in enumerate(page.submissions or [])]
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out
