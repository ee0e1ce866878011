"""Blob storage: resumable uploads (what `createUrl` points at) and signed download URLs (what a 302 points at).

Uploads follow the GCS resumable protocol the official client speaks (protocol.md section 4.3):

- a data `PUT` without `Content-Range` sends the whole object: it completes the upload;
- a data `PUT` with `Content-Range: bytes A-B/N` continues from byte A; it completes when all N bytes are in;
- a probe `PUT` (empty body, `Content-Range: bytes */N`) asks how far it got: `200` when complete, `308` with
  `Range: bytes=0-LAST` when some bytes arrived, `308` without `Range` when none did, `404` for unknown tokens.
  A probe is never stored as data.

Downloads are files on disk (the read-only store or the state folder) published under
`/blobs/<root>/<relative path>?sig=...`; the signature (HMAC with a per-state secret) stands in for Kaggle's
signed GCS URLs, so a blob GET needs no credentials but only URLs the emulator handed out are served, and the
last path segment is always the real file name (the client names its output after it).

Example:
    >>> from kaggle_kit.emulator.models import EmulatorBackend
    >>> backend = EmulatorBackend(None)
    >>> up = backend.blobs.start_upload("local", "DATASET", "a.csv", 4)
    >>> backend.blobs.write(up.token, [b"a\\n1\\n"])
    (200, 4)
    >>> backend.blobs.claim(up.token, "local", "DATASET").name
    'a.csv'
    >>> backend.close()
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kaggle_kit.emulator.core import EmulatorError, EmulatorRoot, ServiceBackend, bad_request, not_found

# Where published blobs may live: the read-only competition store and the emulator's own state folder.
BLOB_ROOTS = ("store", "state")


@dataclass
class Upload:
    """One upload slot: created by `Start*Upload`, filled by PUTs, consumed by `Create*` through its token."""

    token: str
    owner: str
    kind: str  # an ApiBlobType name (DATASET, MODEL, INBOX, ...) or "submission:<competition>"
    name: str
    content_length: int
    created: float
    received: int = 0
    complete: bool = False
    last_modified: int | None = None


class BlobStore(ServiceBackend):
    """Upload slots (`start_upload`, `write`, `claim`, `materialize`) and signed download URLs (`publish`)."""

    name = "blobs"

    def __init__(self, root: EmulatorRoot) -> None:
        super().__init__(root)
        self.uploads: dict[str, Upload] = {}
        self.secret = secrets.token_hex(16)
        (self.folder / "uploads").mkdir(exist_ok=True)

    def to_state(self) -> dict[str, Any]:
        return {"secret": self.secret, "uploads": [asdict(u) for u in self.uploads.values()]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.secret = state.get("secret", self.secret)
        self.uploads = {u["token"]: Upload(**u) for u in state.get("uploads", [])}

    # -- uploads -----------------------------------------------------------------------------------------------------

    def start_upload(self, owner: str, kind: str, name: str, content_length: int,
                     last_modified: int | None = None) -> Upload:
        """Open an upload slot for `owner`; `name` is the file name the finished blob will carry."""
        safe = os.path.basename(str(name).replace("\\", "/"))
        if not safe or safe in (".", "..") or safe != name:
            raise bad_request(f"Invalid upload file name {name!r}: it must be a plain file name without folders")
        if content_length < 0:
            raise bad_request(f"Invalid contentLength {content_length} for {name!r}")
        with self.root.lock:
            upload = Upload(secrets.token_urlsafe(12), owner, kind, safe, int(content_length), self.now(),
                            last_modified=last_modified)
            self.uploads[upload.token] = upload
            self.save()
        return upload

    def upload_file(self, token: str) -> Path:
        return self.folder / "uploads" / token

    def get_upload(self, token: str) -> Upload:
        upload = self.uploads.get(token)
        if upload is None:
            raise not_found(f"Upload {token!r} not found or expired; start the upload again")
        return upload

    def probe(self, token: str) -> tuple[int, int]:
        """`(status, bytes received)` for a `Content-Range: bytes */N` probe: 200 when complete, else 308."""
        upload = self.get_upload(token)
        return (200 if upload.complete else 308), upload.received

    def write(self, token: str, chunks: Iterable[bytes], start: int | None = None, total: int | None = None,
              keep_bytes: int | None = None) -> tuple[int, int]:
        """Store a data PUT and return `(status, bytes received so far)`.

        `start`/`total` come from `Content-Range: bytes START-END/TOTAL` (None: the whole object). `keep_bytes`
        (fault injection) keeps only that many bytes of this request and leaves the upload incomplete.
        """
        upload = self.get_upload(token)
        offset = 0 if start is None else start
        if offset > upload.received:
            raise bad_request(f"Upload {token}: Content-Range starts at {offset} but only {upload.received} "
                              "bytes were received")
        path = self.upload_file(token)
        written = 0
        with open(path, "r+b" if path.exists() else "wb") as f:
            f.seek(offset)
            f.truncate()
            for chunk in chunks:
                if keep_bytes is not None:
                    chunk = chunk[: max(0, keep_bytes - written)]
                if chunk:
                    f.write(chunk)
                    written += len(chunk)
            f.flush()
            os.fsync(f.fileno())
        with self.root.lock:
            upload.received = offset + written
            if keep_bytes is not None:
                upload.complete = False
            elif start is None:
                upload.complete = True
            else:
                upload.complete = total is not None and upload.received >= total
            self.save()
        return (200 if upload.complete else 308), upload.received

    def claim(self, token: str, owner: str, kind: str | tuple[str, ...]) -> Upload:
        """The finished upload behind `token`, checked to belong to `owner` and to be of `kind` (or one of them)."""
        kinds = (kind,) if isinstance(kind, str) else kind
        upload = self.uploads.get(token)
        if upload is None or upload.owner != owner:
            raise bad_request(f"Unknown upload token {token!r}: upload the file first (StartBlobUpload, then PUT)")
        if upload.kind not in kinds:
            raise bad_request(f"Upload token {token!r} was started for {upload.kind}, not {' or '.join(kinds)}")
        if not upload.complete:
            raise bad_request(f"Upload of {upload.name!r} (token {token!r}) is incomplete: "
                              f"{upload.received} of {upload.content_length} bytes received")
        return upload

    def materialize(self, upload: Upload, target: Path) -> Path:
        """Place the finished upload's bytes at `target` (hard link when possible: blobs are immutable)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        source = self.upload_file(upload.token)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.link(source, tmp)
        except OSError:
            import shutil

            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        return target

    # -- downloads ---------------------------------------------------------------------------------------------------

    def _root_dir(self, root: str) -> Path | None:
        if root not in BLOB_ROOTS:
            raise not_found(f"Unknown blob root {root!r}")
        return self.root.store_dir if root == "store" else self.root.state_dir

    def _sign(self, root: str, rel: str) -> str:
        return hmac.new(self.secret.encode(), f"{root}/{rel}".encode(), hashlib.sha256).hexdigest()[:32]

    def publish(self, path: Path) -> str:
        """The signed URL path (`/blobs/...?sig=...`, relative to the server) under which `path` is served."""
        path = Path(path).resolve()
        for root in BLOB_ROOTS:
            base = self._root_dir(root)
            if base is not None and path.is_relative_to(base.resolve()):
                base = base.resolve()
                rel = path.relative_to(base).as_posix()
                return f"/blobs/{root}/{rel}?sig={self._sign(root, rel)}"
        raise EmulatorError(500, f"cannot publish {path}: it is outside the store and the state folder")

    def resolve(self, root: str, rel: str, sig: str | None) -> Path:
        """The file behind a published blob URL; 403 for a bad signature, 404 when it is gone."""
        if not sig or not hmac.compare_digest(sig, self._sign(root, rel)):
            raise EmulatorError(403, "Invalid or missing blob signature")
        base = self._root_dir(root)
        path = (base / rel).resolve() if base is not None else None
        if path is None or not path.is_relative_to(base.resolve()) or not path.is_file():
            raise not_found(f"Blob {rel} not found")
        return path
