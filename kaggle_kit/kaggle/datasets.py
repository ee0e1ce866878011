"""The datasets service: create a dataset or a new version from a folder, its status, files and download.

Create and version speak the official client's protocol (StartBlobUpload, a resumable PUT per file, then
CreateDataset / CreateDatasetVersion) with kk's own steps: each step retries on its own, a PUT resumes where the
server stopped, a create whose answer was lost is looked up before it is sent again, and an answer that says
"error" in a 200 is an error.

Example (against a running emulator, `KK_KAGGLE_URL` set):

    datasets = DatasetsClient(Transport(find_credentials(), emulator_url()))
    datasets.create(Path("weights"))             # weights/dataset-metadata.json names local/my-weights
    datasets.status("local/my-weights")          # 'ready'
    datasets.download("local/my-weights", Path("here"))
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.errors import Target
from kaggle_kit.kaggle.transport import Transport
from kaggle_kit.kaggle.types import DatasetResult, Progress, RemoteFile, enum_name, metadata_ref, split_ref

METADATA = "dataset-metadata.json"
# What the official client never uploads as a data file.
_SKIPPED = {METADATA, "datapackage.json", "kernel-metadata.json", ".git", ".cache", ".huggingface"}


def _not_uploaded(name: str) -> bool:
    return name in _SKIPPED or name.startswith("dataset-cover-image.") or (
        name.startswith("model") and name.endswith("-metadata.json"))


def _metadata(folder: Path) -> tuple[dict, str]:
    ref = metadata_ref(folder, METADATA)
    if "INSERT_" in ref:
        raise KKError(f"{folder / METADATA}: replace the placeholder id {ref!r}")
    return json.loads((folder / METADATA).read_text()), ref


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
        """Create the dataset described by `folder/dataset-metadata.json` from the files in `folder`.

        Refused when the dataset exists (upload a version instead). Each file's upload start, PUT (resumed from
        where the server stopped) and the create itself are retried on their own; a create whose answer was
        lost is looked up before it is sent again.
        """
        from kagglesdk.datasets.types.dataset_api_service import ApiCreateDatasetRequest

        folder = Path(folder)
        meta, ref = _metadata(folder)
        owner, slug, _ = split_ref(ref, "dataset")
        target = Target("dataset", ref)
        title = str(meta.get("title") or "")
        licenses = meta.get("licenses") or []
        if len(licenses) != 1 or not isinstance(licenses[0], dict) or not licenses[0].get("name"):
            raise KKError(f"{folder / METADATA}: name exactly one license, e.g. \"licenses\": [{{\"name\": \"CC0-1.0\"}}]")
        if not 6 <= len(title) <= 50 or not 6 <= len(slug) <= 50:
            raise KKError(f"{folder / METADATA}: the title and the slug must be 6-50 characters")
        if self.status(ref) is not None:
            raise KKError(f"dataset create {ref} failed: the slug {slug!r} is already in use by a dataset",
                          hint="Upload a new version of it instead (or choose another slug).")
        req = ApiCreateDatasetRequest()
        req.owner_slug, req.slug, req.title = owner, slug, title
        req.license_name = str(licenses[0]["name"])
        req.subtitle, req.description = meta.get("subtitle") or None, meta.get("description") or None
        req.category_ids = list(meta.get("keywords") or [])
        req.is_private = not public
        req.files = self._upload_files(folder, meta, target, dir_mode)

        def lookup() -> DatasetResult | None:  # it did not exist before, so if it exists now, this call made it
            return DatasetResult(ref) if self.status(ref) is not None else None

        result = self.transport.rpc(lambda k: _api(k).create_dataset, req, target, idempotent=False, lookup=lookup)
        return result if isinstance(result, DatasetResult) else DatasetResult(ref, self._checked(result, target,
                                                                                                 "create").url)

    def version(self, folder: str | Path, notes: str, delete_old_versions: bool = False,
                dir_mode: str = "zip") -> DatasetResult:
        """Upload `folder`'s files as a new version of its dataset (the file set is replaced).

        Retried step by step like `create`; a version whose answer was lost is recognised by a version number
        newer than before with these notes, so one call makes at most one version.
        """
        from kagglesdk.datasets.types.dataset_api_service import (
            ApiCreateDatasetVersionRequest,
            ApiCreateDatasetVersionRequestBody,
        )

        folder = Path(folder)
        meta, ref = _metadata(folder)
        owner, slug, _ = split_ref(ref, "dataset")
        target = Target("dataset", ref)
        before = self._latest_version(ref, target)
        body = ApiCreateDatasetVersionRequestBody()
        body.version_notes = notes
        body.subtitle, body.description = meta.get("subtitle") or None, meta.get("description") or None
        body.category_ids = list(meta.get("keywords") or [])
        body.delete_old_versions = delete_old_versions
        body.files = self._upload_files(folder, meta, target, dir_mode)
        req = ApiCreateDatasetVersionRequest()
        req.owner_slug, req.dataset_slug, req.body = owner, slug, body

        def lookup() -> DatasetResult | None:
            now = self._latest_version(ref, target)
            made = now is not None and now[0] > (before[0] if before else 0) and now[1] == notes
            return DatasetResult(ref) if made else None

        result = self.transport.rpc(lambda k: _api(k).create_dataset_version, req, target, idempotent=False,
                                    lookup=lookup)
        return result if isinstance(result, DatasetResult) else DatasetResult(ref, self._checked(result, target,
                                                                                                 "version").url)

    def _latest_version(self, ref: str, target: Target) -> tuple[int, str] | None:
        """(number, notes) of the dataset's newest version; None if the dataset does not exist."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest

        owner, slug, _ = split_ref(ref, "dataset")
        req = ApiGetDatasetRequest()
        req.owner_slug, req.dataset_slug = owner, slug
        ds = self.transport.rpc(lambda k: _api(k).get_dataset, req, target, missing_ok=True)
        if ds is None:
            return None
        number = int(ds.current_version_number or 0)
        notes = next((v.version_notes or "" for v in ds.versions or [] if v and v.version_number == number), "")
        return number, notes

    def _upload_files(self, folder: Path, meta: dict, target: Target, dir_mode: str) -> list[Any]:
        """Upload every top-level file of `folder` (sub-folders as one `.zip`/`.tar` each with `dir_mode`, else
        skipped; metadata files never) and return the `files` of the create request, in name order."""
        from kagglesdk.blobs.types.blob_api_service import ApiBlobType, ApiStartBlobUploadRequest
        from kagglesdk.datasets.types.dataset_api_service import ApiDatasetNewFile

        blobs = lambda k: k.blobs.blob_api_client.start_blob_upload  # noqa: E731
        described = {str(r.get("path")): r.get("description") for r in meta.get("resources") or []
                     if isinstance(r, dict)}
        files = []
        with tempfile.TemporaryDirectory(prefix="kk-dataset-") as tmp:
            for entry in sorted(folder.iterdir()):
                if _not_uploaded(entry.name):
                    continue
                if entry.is_dir():
                    if dir_mode not in ("zip", "tar"):
                        continue
                    path = Path(shutil.make_archive(str(Path(tmp) / entry.name), dir_mode, root_dir=entry))
                elif entry.is_file():
                    path = entry
                else:
                    continue
                start = ApiStartBlobUploadRequest()
                start.type = ApiBlobType.DATASET
                start.name = path.name
                start.content_length = path.stat().st_size
                start.last_modified_epoch_seconds = int(path.stat().st_mtime)
                token = self.transport.upload(functools.partial(self.transport.rpc, blobs, start, target), path, target)
                new = ApiDatasetNewFile()
                new.token = token
                if described.get(entry.name):
                    new.description = str(described[entry.name])
                files.append(new)
        if not files:
            raise KKError(f"{folder}: no files to upload (only metadata)")
        return files

    def _checked(self, result: Any, target: Target, action: str) -> Any:
        """The create/version answer, or a `KKError` for what Kaggle reports as an error in a 200 answer."""
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
