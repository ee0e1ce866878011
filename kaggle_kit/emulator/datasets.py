"""Datasets: create, version, list files, download (no HTTP here).

A dataset is `owner/slug` with numbered versions; each version is a complete, flat file set (the client re-uploads
every file for a new version). Files come from finished uploads (`BlobStore`) and live under
`<state>/datasets/<owner>/<slug>/<version>/files/<name>`. Private datasets are visible to their owner only
(anyone else gets the same 404 as for a dataset that does not exist).

Validation problems raise `EmulatorError(400, ...)`; the RPC layer reports those from CreateDataset and
CreateDatasetVersion the way Kaggle does, as `{"status": "Error", "error": ...}` in a 200 response.

Example (`backend` an `EmulatorBackend`; `token` a finished upload of `model.keras`, see `blobs.py`):

    ds = backend.datasets.create("local", "local", "my-weights", "My Weights", [NewFile(token)])
    ds.current.number, [f.name for f in ds.current.files]  # (1, ['model.keras'])
"""

from __future__ import annotations

import os
import re
import threading
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kaggle_kit.emulator.blobs import BlobStore
from kaggle_kit.emulator.core import EmulatorError, EmulatorRoot, ServiceBackend, bad_request, not_found
from kaggle_kit.io import atomic_path

# StartBlobUpload omits `type` when it is the enum's zero value, so an unspecified type is a dataset blob too.
DATASET_BLOB_KINDS = ("DATASET", "API_BLOB_TYPE_UNSPECIFIED")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,49}$")


@dataclass
class NewFile:
    """A file of a create/version request: the upload token plus optional description and column schema."""

    token: str
    description: str = ""
    columns: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DatasetFile:
    name: str
    size: int
    created: float
    description: str = ""
    columns: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DatasetVersion:
    number: int
    created: float
    notes: str
    files: list[DatasetFile]
    deleted: bool = False

    def file(self, name: str) -> DatasetFile | None:
        return next((f for f in self.files if f.name == name), None)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class Dataset:
    id: int
    owner: str
    slug: str
    title: str
    license: str
    is_private: bool
    created: float
    subtitle: str = ""
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    versions: list[DatasetVersion] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/datasets/{self.ref}"

    @property
    def current(self) -> DatasetVersion:
        return next(v for v in reversed(self.versions) if not v.deleted)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dataset:
        versions = [DatasetVersion(**{**v, "files": [DatasetFile(**f) for f in v["files"]]}) for v in d["versions"]]
        return cls(**{**d, "versions": versions})


class DatasetsBackend(ServiceBackend):
    """The users' datasets: versions of flat file sets built from finished uploads; private ones owner-only."""

    name = "datasets"

    def __init__(self, root: EmulatorRoot) -> None:
        super().__init__(root)
        self.datasets: dict[str, Dataset] = {}
        self.next_id = 1000
        self._archive_lock = threading.Lock()

    def to_state(self) -> dict[str, Any]:
        return {"next_id": self.next_id, "datasets": [asdict(d) for d in self.datasets.values()]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.next_id = state.get("next_id", self.next_id)
        self.datasets = {f"{d['owner']}/{d['slug']}": Dataset.from_dict(d) for d in state.get("datasets", [])}

    @property
    def blobs(self) -> BlobStore:
        return self.root.service(BlobStore)

    # -- lookups -----------------------------------------------------------------------------------------------------

    @staticmethod
    def visible(ds: Dataset, user: str | None) -> bool:
        return not ds.is_private or ds.owner == user

    def get(self, user: str | None, owner: str, slug: str) -> Dataset:
        ds = self.datasets.get(f"{owner}/{slug}")
        if ds is None or not self.visible(ds, user):
            raise not_found(f"Dataset {owner}/{slug} not found")
        return ds

    def get_by_id(self, user: str | None, dataset_id: int) -> Dataset:
        for ds in self.datasets.values():
            if ds.id == dataset_id and self.visible(ds, user):
                return ds
        raise not_found(f"Dataset with id {dataset_id} not found")

    def owned(self, user: str | None, owner: str, slug: str) -> Dataset:
        ds = self.get(user, owner, slug)
        if ds.owner != user:
            raise EmulatorError(403, f"You do not have permission to change dataset {ds.ref}")
        return ds

    def version(self, ds: Dataset, number: int | None = None) -> DatasetVersion:
        if not number:
            return ds.current
        for v in ds.versions:
            if v.number == number and not v.deleted:
                return v
        raise not_found(f"Dataset {ds.ref} has no version {number}")

    def list(self, user: str | None, owner: str | None = None, search: str = "", mine: bool = False) -> list[Dataset]:
        needle = search.lower().strip()
        out = [d for d in self.datasets.values() if self.visible(d, user)]
        if mine:
            out = [d for d in out if d.owner == user]
        if owner:
            out = [d for d in out if d.owner == owner]
        if needle:
            out = [d for d in out if needle in d.slug.lower() or needle in d.title.lower()]
        return sorted(out, key=lambda d: d.current.created, reverse=True)

    def file_path(self, ds: Dataset, version: DatasetVersion, name: str) -> Path:
        if version.file(name) is None:
            raise not_found(f"File {name!r} not found in dataset {ds.ref} version {version.number}")
        return self._version_dir(ds, version.number) / "files" / name

    def archive(self, ds: Dataset, version: DatasetVersion) -> Path:
        """`<slug>.zip` of one version's files (built once; versions never change)."""
        target = self._version_dir(ds, version.number) / "archive" / f"{ds.slug}.zip"
        with self._archive_lock:
            if not target.exists():
                with atomic_path(target) as tmp:
                    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                        for f in version.files:
                            zf.write(self.file_path(ds, version, f.name), f.name)
                os.utime(target, (version.created, version.created))
        return target

    # -- changes -----------------------------------------------------------------------------------------------------

    def create(self, user: str, owner: str, slug: str, title: str, files: list[NewFile], license_name: str = "CC0-1.0",
               is_private: bool = True, subtitle: str = "", description: str = "",
               keywords: list[str] | None = None) -> Dataset:
        if owner != user:
            raise bad_request(f"You can only create datasets under your own account ({user!r}), not {owner!r}")
        if not slug or not SLUG_RE.match(slug):
            raise bad_request(f"Invalid dataset slug {slug!r}: use 3-50 letters, digits and dashes")
        if not title or not title.strip():
            raise bad_request("A dataset needs a title")
        with self.root.lock:
            if f"{owner}/{slug}" in self.datasets:
                raise bad_request(f'The requested slug "{owner}/{slug}" is already in use')
            now = self.now()
            ds = Dataset(self.next_id, owner, slug, title.strip(), license_name or "unknown", is_private, now,
                         subtitle or "", description or "", list(keywords or []))
            ds.versions.append(self._new_version(user, ds, 1, "Initial release", files))
            self.next_id += 1
            self.datasets[ds.ref] = ds
            self.save()
        return ds

    def create_version(self, user: str, ds: Dataset, files: list[NewFile], notes: str = "",
                       delete_old_versions: bool = False, subtitle: str | None = None,
                       description: str | None = None, keywords: list[str] | None = None) -> DatasetVersion:
        if ds.owner != user:
            raise EmulatorError(403, f"You do not have permission to change dataset {ds.ref}")
        with self.root.lock:
            version = self._new_version(user, ds, ds.versions[-1].number + 1, notes, files)
            if delete_old_versions:
                for old in ds.versions:
                    old.deleted = True
                    self._remove_version_files(ds, old.number)
            ds.versions.append(version)
            if subtitle:
                ds.subtitle = subtitle
            if description:
                ds.description = description
            if keywords:
                ds.keywords = list(keywords)
            self.save()
        return version

    def _version_dir(self, ds: Dataset, number: int) -> Path:
        return self.folder / ds.owner / ds.slug / str(number)

    def _remove_version_files(self, ds: Dataset, number: int) -> None:
        import shutil

        shutil.rmtree(self._version_dir(ds, number), ignore_errors=True)

    def _new_version(self, user: str, ds: Dataset, number: int, notes: str, files: list[NewFile]) -> DatasetVersion:
        if not files:
            raise bad_request("A dataset version needs at least one file")
        uploads = [(self.blobs.claim(f.token, user, DATASET_BLOB_KINDS), f) for f in files]
        names = [u.name for u, _ in uploads]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise bad_request(f"Duplicate file name {dupes[0]!r}: each file of a dataset version needs its own name")
        now = self.now()
        folder = self._version_dir(ds, number) / "files"
        out = []
        for upload, new in uploads:
            path = self.blobs.materialize(upload, folder / upload.name)
            out.append(DatasetFile(upload.name, path.stat().st_size, now, new.description or "", list(new.columns)))
        return DatasetVersion(number, now, notes or "", out)
