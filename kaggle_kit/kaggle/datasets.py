"""The datasets service: create a dataset or a new version from a folder, its status, files and download.

Create and version go through the official client's uploader (resumable uploads); kk then checks what that
uploader reports as success although it is a failure (a file that did not upload, `status != ok`).

Example (against a running emulator, `KK_KAGGLE_URL` set):

    datasets = DatasetsClient(Transport(find_credentials(), emulator_url()))
    datasets.create(Path("weights"))             # weights/dataset-metadata.json names local/my-weights
    datasets.status("local/my-weights")          # 'ready'
    datasets.download("local/my-weights", Path("here"))
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.errors import Target
from kaggle_kit.kaggle.transport import Transport
from kaggle_kit.kaggle.types import DatasetResult, Progress, RemoteFile, enum_name, metadata_ref, split_ref

METADATA = "dataset-metadata.json"


def _api(kaggle):
    return kaggle.datasets.dataset_api_client


class DatasetsClient:
    """Calls of kagglesdk's `DatasetApiService` (and the official client's uploader), over `transport`."""

    def __init__(self, transport: Transport):
        self.transport = transport

    def version_number(self, ref: str) -> int | None:
        """The dataset's current version number (None if the server does not say)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest

        owner, slug, _ = split_ref(ref, "dataset")
        req = ApiGetDatasetRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        ds = self.transport.rpc(lambda k: _api(k).get_dataset, req, Target("dataset", f"{owner}/{slug}"))
        return int(getattr(ds, "current_version_number", 0) or 0) or None

    def status(self, ref: str) -> str | None:
        """`ready`, `blobs_received`, ... (lower case), or None if the dataset does not exist (or is not visible)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetStatusRequest

        owner, slug, _ = split_ref(ref, "dataset")
        req = ApiGetDatasetStatusRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        r = self.transport.rpc(lambda k: _api(k).get_dataset_status, req, Target("dataset", f"{owner}/{slug}"),
                               missing_ok=True)
        return None if r is None else enum_name(r.status).lower()

    def create(self, folder: str | Path, public: bool = False, dir_mode: str = "zip") -> DatasetResult:
        """Create the dataset described by `folder/dataset-metadata.json` from the files in `folder`."""
        folder = Path(folder)
        ref = metadata_ref(folder, METADATA)
        api = self.transport.official()
        result = self._checked_upload(
            lambda: api.dataset_create_new(str(folder), public=public, quiet=False, dir_mode=dir_mode),
            Target("dataset", ref), "create")
        return DatasetResult(ref, result.url)

    def version(self, folder: str | Path, notes: str, delete_old_versions: bool = False,
                dir_mode: str = "zip") -> DatasetResult:
        """Upload `folder`'s files as a new version of its dataset (the file set is replaced)."""
        folder = Path(folder)
        ref = metadata_ref(folder, METADATA)
        api = self.transport.official()
        result = self._checked_upload(
            lambda: api.dataset_create_version(str(folder), notes, quiet=False, delete_old_versions=delete_old_versions,
                                               dir_mode=dir_mode),
            Target("dataset", ref), "version")
        return DatasetResult(ref, result.url)

    def _checked_upload(self, fn: Callable[[], Any], target: Target, action: str) -> Any:
        """Run a dataset create/version and check what the official client would report with exit code 0."""
        chatter = io.StringIO()

        def run():
            # stdout carries the per-file verdicts; stderr only the client's tqdm bars.
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(io.StringIO()):
                return fn()

        result = self.transport.call(run, target, idempotent=False)
        failed = [line.split(":", 1)[1].strip() for line in chatter.getvalue().splitlines()
                  if line.startswith("Upload unsuccessful:")]
        if failed:
            raise KKError(f"dataset {action} {target.name}: upload of {', '.join(failed)} failed; nothing was created")
        status = (result.status or "").lower()
        if status != "ok" or result.error:
            error = self.transport.credentials.redact(result.error or f"status {result.status!r}")
            raise KKError(f"dataset {action} {target.name} failed: {error}")
        return result

    def files(self, ref: str) -> list[RemoteFile]:
        """The files of dataset `owner/slug[/version]` (all pages)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiListDatasetFilesRequest

        owner, slug, version = split_ref(ref, "dataset")
        req = ApiListDatasetFilesRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        req.dataset_version_number = version
        files: list[RemoteFile] = []
        for page in self.transport.paginate(lambda k: _api(k).list_dataset_files, req, Target("dataset", ref),
                                            page_size=200):
            if page.error_message:
                raise KKError(f"dataset {ref}: {self.transport.credentials.redact(page.error_message)}")
            files += [RemoteFile.from_api(f) for f in page.dataset_files or []]
        return files

    def download(self, ref: str, path: str | Path, file_name: str | None = None,
                 progress: Progress | None = None) -> list[Path]:
        """Download dataset `owner/slug[/version]` (or one `file_name` of it) into folder `path`, unzipped.

        Archive members are extracted safely (nothing lands outside `path`) and every file is moved into place
        only once the whole download is complete. Returns the files written.
        """
        from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

        from kaggle_kit.kaggle.transfer import install_download

        owner, slug, version = split_ref(ref, "dataset")
        req = ApiDownloadDatasetRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        req.dataset_version_number = version
        if file_name:
            req.file_name = file_name
        target = Target("dataset", ref)
        return install_download(
            lambda tmp: self.transport.download(lambda k: _api(k).download_dataset, req, tmp, target, progress),
            Path(path), name=file_name or f"{slug}.zip", unzip=file_name is None or file_name.endswith(".zip"))
