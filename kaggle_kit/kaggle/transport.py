"""How every call reaches Kaggle: the official client, routed per call, under one retry policy.

`Transport` owns the official `KaggleApi` (imported and authenticated on first use: `import kaggle` costs ~0.3 s
and authenticates at import, so `kk --help` never pays for it), sends kagglesdk requests (`rpc`), walks list
RPCs page by page (`paginate`), streams blobs in and out, and turns what is left after the retries into the
`KKError`s of `kaggle_kit.kaggle.errors`. The service clients (competitions, datasets, kernels) build requests
and read answers; nothing else.

Retries: connection errors, cut answers, 429 (honouring `Retry-After`) and 500/502/503/504, each call on its
own, at most `retries` times; an error message counts the attempts really made. A call that creates something
(a submission, a dataset or a version of one, a kernel version) is sent again directly only when the server
certainly did not act on it (429, a connection never made); after a failure it may have acted on (an answer
lost after the request was sent, a cut answer, a 5xx), the create's `lookup` asks the server whether it
happened before anything is sent again. Uploads (`put_blob`) resume from the bytes the server holds.

Example:
    >>> policy = RetryPolicy(retries=5, backoff=0.5, max_backoff=30.0)
    >>> [policy.delay(attempt) for attempt in range(4)], policy.delay(0, retry_after=90)
    ([0.5, 1.0, 2.0, 4.0], 30.0)
    >>> policy.transient(500, idempotent=False), policy.transient(503, idempotent=False)
    (False, True)
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.credentials import NO_CREDENTIALS_HINT, Credentials, config_dir
from kaggle_kit.kaggle.errors import Target, connection_error, http_error
from kaggle_kit.kaggle.routing import routed
from kaggle_kit.kaggle.types import Blob, Progress

T = TypeVar("T")
Method = Callable[[Any], Callable[[Any], Any]]  # kagglesdk client -> one of its RPC methods


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed call is tried again, and how long kk waits first.

    Args:
        retries: attempts after the first one.
        backoff: first delay in seconds; doubles each attempt, capped at `max_backoff` (which also caps
            a server's Retry-After).
    """

    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        wanted = retry_after if retry_after is not None else self.backoff * (2 ** attempt)
        return min(wanted, self.max_backoff)

    def transient(self, status: int, idempotent: bool) -> bool:
        """Whether HTTP `status` is worth another attempt (a 500 may have been acted on: only if idempotent)."""
        return status in (429, 502, 503, 504) or (idempotent and status == 500)


def not_sent(exc: BaseException) -> bool:
    """Whether a connection failure happened before the request could reach the server (safe to send again)."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    # Refused or unresolvable: urllib3 says NewConnectionError (wrapped in ProxyError when going through the
    # emulator as a proxy). A connection that was made and then lost reports something else.
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if type(e).__name__ in ("NewConnectionError", "NameResolutionError", "ConnectionRefusedError"):
            return True
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), getattr(e, "original_error", None),
                 *e.args]
    return False


def retry_after(response: Any) -> float | None:
    """A response's Retry-After in seconds (either form: delta-seconds or an HTTP date), or None."""
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return None


class Transport:
    """The official client bound to `credentials` and `url` (an emulator, or None for kaggle.com), with retries."""

    def __init__(self, credentials: Credentials, url: str | None, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.credentials = credentials
        self.url = url
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._api = None

    @property
    def where(self) -> str:
        return f"the Kaggle emulator at {self.url}" if self.url else "Kaggle"

    @property
    def username(self) -> str | None:
        """The credentials' username, else the one the official client read (an access token names none)."""
        return self.credentials.username or self.official().config_values.get("username")

    def official(self):
        """The `KaggleApi` bound to these credentials and this endpoint (import and authentication happen here)."""
        if self._api is not None:
            return self._api
        chatter = io.StringIO()
        with routed(self.url), contextlib.redirect_stdout(chatter):
            # kaggle/__init__ authenticates a module-level instance at import; any noise it prints is captured.
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            folder = self.credentials.config_dir or config_dir()
            api.config_dir = str(folder)
            api.config = str(folder / "kaggle.json")
            # Instance attribute: the class attribute was computed from the environment at import time.
            api.args = ["--local"] if self.url else []
            import requests

            try:
                api.authenticate()  # an access token is checked with the server here
            except SystemExit:
                raise KKError(f"the official Kaggle client found no usable credentials ({self.credentials.source})",
                              hint=NO_CREDENTIALS_HINT) from None
            except requests.exceptions.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                raise self._http_error(exc, status, Target("credentials", self.credentials.source)) from None
            except requests.exceptions.RequestException as exc:
                raise connection_error(exc, self.url, self.credentials) from None
        self._api = api
        return api

    @contextlib.contextmanager
    def sdk(self) -> Iterator[Any]:
        """The official client's `kagglesdk.KaggleClient`, routed to this transport's endpoint."""
        api = self.official()
        with routed(self.url), api.build_kaggle_client() as kaggle:
            yield kaggle

    def call(self, fn: Callable[[], T], target: Target, idempotent: bool = True, missing_ok: bool = False,
             lookup: Callable[[], T | None] | None = None) -> T:
        """Run `fn` (routed), retrying transient failures; translate what is left into a `KKError`.

        A call that creates something passes `idempotent=False` and a `lookup`: after a failure the server may
        have acted on (no answer once the request was sent, a cut answer, a 5xx), `lookup()` is asked whether
        the thing now exists; its answer, if not None, is the result, and None means it certainly was not
        created, so sending the create again is safe. A 429 or a connection never made is retried directly.
        Without a lookup such a failure is final and the error says the server may have acted.
        `missing_ok=True` answers None to a 404.
        """
        import requests

        attempt = 0
        checked = False  # a lookup proved that no failed attempt created anything
        while True:
            try:
                with routed(self.url), contextlib.redirect_stdout(io.StringIO()):
                    return fn()
            except KKError:
                raise
            except requests.exceptions.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 404 and missing_ok:
                    return None  # type: ignore[return-value]
                transient = self.policy.transient(status, idempotent=True)
                if transient and not idempotent and status != 429:
                    if lookup is None:
                        raise self._http_error(exc, status, target, attempt + 1, maybe_done=True) from None
                    found = self._look_up(lookup, target, exc)
                    if found is not None:
                        return found
                    checked = True
                if transient and attempt < self.policy.retries:
                    self._wait(attempt, retry_after(exc.response) if status == 429 else None)
                    attempt += 1
                    continue
                raise self._http_error(exc, status, target, attempt + 1,
                                       nothing_done=checked or not transient) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError, requests.exceptions.JSONDecodeError) as exc:
                unsent = not_sent(exc)
                # An emulator that refuses connections is not running: say so after a short wait, not 15 s.
                limit = min(self.policy.retries, 2) if self.url and unsent else self.policy.retries
                if not idempotent and not unsent:
                    if lookup is None:
                        raise connection_error(exc, self.url, self.credentials, attempt + 1, lost=True,
                                               outcome=f"{target.kind} {target.name} may have been changed "
                                                       "on the server; check before trying again") from None
                    found = self._look_up(lookup, target, exc)
                    if found is not None:
                        return found
                    checked = True
                if attempt < limit:
                    self._wait(attempt, None)
                    attempt += 1
                    continue
                outcome = "nothing was created" if checked else None
                raise connection_error(exc, self.url, self.credentials, attempt + 1, outcome=outcome,
                                       lost=not unsent) from None
            except ValueError as exc:
                # The official client raises ValueError for what the user got wrong (metadata, slugs, folders).
                raise KKError(self.credentials.redact(f"{target.kind} {target.name}: {exc}")) from None

    def _look_up(self, lookup: Callable[[], T | None], target: Target, cause: BaseException) -> T | None:
        """Whether a create whose answer was lost happened; a `KKError` saying so when even that cannot be told."""
        try:
            return lookup()
        except KKError as exc:
            raise KKError(f"{target.kind} {target.name}: the answer to the request was lost "
                          f"({type(cause).__name__}) and checking whether it was acted on failed too: {exc.message}",
                          hint=f"It may have been created on {self.where}; look there before trying again.") from None

    def rpc(self, method: Method, request: Any, target: Target, idempotent: bool = True,
            missing_ok: bool = False, lookup: Callable[[], Any] | None = None) -> Any:
        """Send a kagglesdk `request` to `method(kaggle)`, e.g. `lambda k: k.competitions.competition_api_client
        .get_submission`, under `call`'s retries and errors (a create passes its `lookup`)."""

        def send():
            with self.sdk() as kaggle:
                return method(kaggle)(request)

        return self.call(send, target, idempotent=idempotent, missing_ok=missing_ok, lookup=lookup)

    def upload(self, start: Callable[[], Any], path: Path, target: Target, restarts: int = 3) -> str:
        """Upload `path` through `start()` (a retried RPC answering `token` and `create_url`) and `put_blob`;
        an upload the server forgot is started again (at most `restarts` times). Returns the blob token."""
        for _ in range(restarts):
            upload = start()
            if self.put_blob(upload.create_url, path, target):
                return upload.token
        raise KKError(f"{target.kind} {target.name}: the server forgot the upload of {path.name} "
                      f"{restarts} times in a row (404 on the upload URL)", hint="Try again later.")

    def paginate(self, method: Method, request: Any, target: Target, page_size: int = 100) -> Iterator[Any]:
        """Every page of a list RPC, in order: `request` is sent with `page_size` and each `next_page_token`."""
        token = ""
        while True:
            request.page_size = page_size
            request.page_token = token
            page = self.rpc(method, request, target)
            yield page
            token = page.next_page_token or ""
            if not token:
                return

    def download(self, method: Method, request: Any, dest: Path, target: Target,
                 progress: Progress | None = None) -> Blob:
        """Send a download RPC, follow its redirect and stream the blob to `dest`; the whole blob is retried."""

        def fetch() -> Blob:
            with self.sdk() as kaggle:
                response = method(kaggle)(request)
                try:
                    expected = response.headers.get("Content-Length")
                    total = int(expected) if expected else None
                    done = 0
                    if progress:
                        progress(0, total)
                    with open(dest, "wb") as out:
                        for chunk in response.iter_content(chunk_size=1 << 20):
                            out.write(chunk)
                            done += len(chunk)
                            if progress:
                                progress(done, total)
                        out.flush()
                        os.fsync(out.fileno())
                finally:
                    response.close()
            if total is not None and done != total:
                import requests

                # Transient by nature (a cut connection); let `call` retry it.
                raise requests.exceptions.ConnectionError(f"download ended after {done} of {total} bytes")
            return Blob(dest, done, response.headers.get("Last-Modified"))

        return self.call(fetch, target)

    def get_blob(self, url: str, dest: Path, target: Target) -> Path:
        """GET an absolute blob URL (no auth, like the official client) into `dest` atomically."""
        import requests

        from kaggle_kit.io import atomic_path

        def fetch():
            with atomic_path(dest) as tmp, requests.get(url, stream=True, timeout=300) as r:
                r.raise_for_status()
                with open(tmp, "wb") as out:
                    for chunk in r.iter_content(chunk_size=1 << 20):
                        out.write(chunk)
            return dest

        return self.call(fetch, target)

    def put_blob(self, url: str, path: Path, target: Target) -> bool:
        """PUT a file's raw bytes to a resumable upload URL (no auth header, as the official client does).

        The upload resumes where the server says it stopped: after a failed PUT, a probe
        (`Content-Range: bytes */SIZE`) answers 200 (complete), or 308 with the `Range` received so far, and
        only the rest is sent. Each PUT and probe is retried under the policy. Returns False when the server no
        longer knows the upload (404: expired), so that the caller starts a new one.
        """
        import requests

        size = path.stat().st_size
        state = {"sent": False}

        def probe() -> int | None:
            """Bytes the server holds (None: it has the whole file)."""
            r = requests.put(url, data=b"", headers={"Content-Length": "0", "Content-Range": f"bytes */{size}"},
                             timeout=60)
            if r.status_code in (200, 201):
                return None
            if r.status_code == 308:
                got = re.fullmatch(r"bytes=0-(\d+)", r.headers.get("Range", "").strip())
                return int(got.group(1)) + 1 if got else 0
            r.raise_for_status()
            raise requests.exceptions.HTTPError(f"upload probe answered {r.status_code}", response=r)

        def put() -> bool:
            offset = probe() if state["sent"] and size else 0
            if offset is None:
                return True
            # The server may hold every byte yet not have finalised the upload: send the last one again (a PUT
            # never goes out empty, which `requests` would turn into a chunked body).
            offset = min(offset, max(0, size - 1))
            state["sent"] = True
            headers = {"Content-Length": str(size - offset)}
            if offset:
                headers["Content-Range"] = f"bytes {offset}-{size - 1}/{size}"
            with open(path, "rb") as f:
                f.seek(offset)
                r = requests.put(url, data=f if size else b"", headers=headers, timeout=300)
            if r.status_code in (200, 201):
                return True
            if r.status_code == 308:  # the server kept part of it: resume from there
                raise requests.exceptions.ConnectionError(f"upload incomplete ({r.headers.get('Range', 'nothing')} "
                                                          "received)")
            r.raise_for_status()
            raise requests.exceptions.HTTPError(f"upload answered {r.status_code}", response=r)

        result = self.call(put, target, missing_ok=True)
        return result is not None

    def _wait(self, attempt: int, server_delay: float | None) -> None:
        self._sleep(self.policy.delay(attempt, server_delay))

    def _http_error(self, exc: BaseException, status: int, target: Target, attempts: int = 1,
                    maybe_done: bool = False, nothing_done: bool = False) -> KKError:
        error = http_error(exc, status, target, where=self.where, credentials=self.credentials, attempts=attempts)
        if maybe_done:
            return KKError(f"{error.message}; {target.kind} {target.name} may have been changed on the server",
                           hint="Check it on the server before trying again.")
        if nothing_done and status >= 500:
            return KKError(f"{error.message}; nothing was created", hint=error.hint)
        return error
