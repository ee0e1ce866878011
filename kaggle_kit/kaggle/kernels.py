"""The kernels service: push a folder as a new kernel version, its session status, its outputs, its code.

A push goes through the official client (it reads kernel-metadata.json and the code file); kk then checks what
the client reports as success although it is a failure (`error`, sources the server rejected).

Example (against a running emulator, `KK_KAGGLE_URL` set):

    kernels = KernelsClient(Transport(find_credentials(), emulator_url()))
    pushed = kernels.push(Path("kernels/build/train"))
    kernels.status(pushed.ref, pushed.version).status      # KernelStatus.RUNNING, later COMPLETE
    kernels.output(pushed.ref, Path("out"), version=pushed.version)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.errors import Target, session_limit_error
from kaggle_kit.kaggle.transport import Transport
from kaggle_kit.kaggle.types import KernelPush, KernelSession, metadata_ref, split_ref

METADATA = "kernel-metadata.json"


def _api(kaggle):
    return kaggle.kernels.kernels_api_client


class KernelsClient:
    """Calls of kagglesdk's `KernelsApiService` (and the official client's push and pull), over `transport`."""

    def __init__(self, transport: Transport):
        self.transport = transport

    def push(self, folder: str | Path, timeout: int | None = None, accelerator: str | None = None) -> KernelPush:
        """Push `folder` (kernel-metadata.json + code) as a new kernel version; a `KKError` on any push error.

        A push whose answer was lost is looked up (the kernel's current version and code) before it is sent
        again: one call makes at most one version, and a push reported as failed made none.
        """
        folder = Path(folder)
        ref = metadata_ref(folder, METADATA)
        api = self.transport.official()
        target = Target("kernel", ref)
        r = self.transport.call(lambda: api.kernels_push(str(folder), str(timeout) if timeout else None, accelerator),
                                target, idempotent=False, lookup=self._new_version(folder, ref, target))
        if isinstance(r, KernelPush):
            return r
        if r.error:
            text = self.transport.credentials.redact(r.error)
            raise session_limit_error(f"kernel push {ref} failed", text) or KKError(f"kernel push {ref} failed: {text}")
        invalid = {
            "dataset sources": r.invalid_dataset_sources, "competition sources": r.invalid_competition_sources,
            "kernel sources": r.invalid_kernel_sources, "model sources": r.invalid_model_sources,
        }
        bad = "; ".join(f"{k}: {', '.join(v)}" for k, v in invalid.items() if v)
        if bad:
            raise KKError(f"kernel push {ref}: the server rejected {bad}",
                          hint="Check that those datasets/kernels exist and are visible to the kernel's owner.")
        url_ref = (r.ref or "").removeprefix("/code/").strip("/") or ref
        return KernelPush(url_ref, r.url or None, r.version_number)

    def _current(self, ref: str, target: Target) -> tuple[int, str] | None:
        """(current version number, its source) of kernel `ref`, or None if it does not exist."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelRequest

        owner, slug, _ = split_ref(ref, "kernel")
        req = ApiGetKernelRequest()
        req.user_name, req.kernel_slug = owner, slug
        r = self.transport.rpc(lambda k: _api(k).get_kernel, req, target, missing_ok=True)
        if r is None or r.metadata is None:
            return None
        return int(r.metadata.current_version_number or 0), (r.blob.source if r.blob else "") or ""

    def _new_version(self, folder: Path, ref: str, target: Target):
        """A lookup for a push whose answer was lost: the version it made, if the kernel's current version is newer
        than before the push and holds this push's code (a script's code is compared; a notebook's is rewritten by
        the client, so only its version number is)."""
        meta = json.loads((folder / METADATA).read_text(encoding="utf-8"))
        code = (folder / str(meta.get("code_file") or "")).read_text(encoding="utf-8") \
            if meta.get("kernel_type") == "script" and (folder / str(meta.get("code_file") or "")).is_file() else None
        before = self._current(ref, target)
        number_before = before[0] if before else 0

        def lookup() -> KernelPush | None:
            now = self._current(ref, target)
            if now is None or now[0] <= number_before or (code is not None and now[1] != code):
                return None
            return KernelPush(ref, f"https://www.kaggle.com/code/{ref}", now[0])

        return lookup

    def status(self, ref: str, version: int | None = None) -> KernelSession:
        """The session of kernel `owner/slug` (its latest version, or `version`)."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelSessionStatusRequest

        owner, slug, v = split_ref(ref, "kernel")
        version = version or v
        req = ApiGetKernelSessionStatusRequest()
        req.user_name, req.kernel_slug = owner, slug
        if version:
            req.version_label = f"v{version}"
        r = self.transport.rpc(lambda k: _api(k).get_kernel_session_status, req, Target("kernel", f"{owner}/{slug}"))
        return KernelSession.from_api(r)

    def output(self, ref: str, path: str | Path, version: int | None = None, pattern: str | None = None) -> list[Path]:
        """Download a kernel's output files (and its log as `<slug>.log`) into `path`; returns the files written.

        Unlike the official client, a file name that would land outside `path` is refused, and each file is
        written atomically.
        """
        from kagglesdk.kernels.types.kernels_api_service import ApiListKernelSessionOutputRequest

        from kaggle_kit.io import atomic_write_text
        from kaggle_kit.kaggle.transfer import safe_member_path

        owner, slug, v = split_ref(ref, "kernel")
        version = version or v
        target = Target("kernel", f"{owner}/{slug}")
        req = ApiListKernelSessionOutputRequest()
        req.user_name, req.kernel_slug = owner, slug
        if version:
            req.version_label = f"v{version}"
        folder = Path(path)
        regex = re.compile(pattern) if pattern else None
        written: list[Path] = []
        log_parts: list[str] = []
        for page in self.transport.paginate(lambda k: _api(k).list_kernel_session_output, req, target):
            for item in page.files or []:
                if regex and not regex.search(item.file_name):
                    continue
                dest = safe_member_path(folder, item.file_name)
                written.append(self.transport.get_blob(item.url, dest, target))
            if page.log:
                log_parts.append(page.log)
        if log_parts:
            written.append(atomic_write_text(folder / f"{slug}.log", "".join(log_parts)))
        return written

    def current_version(self, ref: str) -> int:
        """The newest version number of kernel `ref` (OWNER/SLUG): what Kaggle runs when no version is named."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelRequest

        owner, slug, _ = split_ref(ref, "kernel")
        request = ApiGetKernelRequest()
        request.user_name, request.kernel_slug = owner, slug
        response = self.transport.rpc(lambda k: k.kernels.kernels_api_client.get_kernel, request,
                                      Target("kernel", f"{owner}/{slug}"))
        number = getattr(response.metadata, "current_version_number", None) if response.metadata else None
        if not number:
            raise KKError(f"kernel {owner}/{slug} has no version yet", hint="Push it first: kk push-kernel ...")
        return int(number)

    def pull(self, ref: str, path: str | Path, metadata: bool = True) -> Path:
        """Download a kernel's code (and its kernel-metadata.json) into `path`; returns the folder."""
        owner, slug, v = split_ref(ref, "kernel")
        api = self.transport.official()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        kernel = f"{owner}/{slug}" + (f"/{v}" if v else "")
        self.transport.call(lambda: api.kernels_pull(kernel, str(folder), metadata=metadata, quiet=True),
                            Target("kernel", f"{owner}/{slug}"))
        return folder
