"""The one door to Kaggle: a thin adapter over the official `kaggle` client.

Every kk command that talks to Kaggle goes through `KaggleClient`. It

- finds the credentials itself (the official client prints a help text and exits at import time when there are
  none), and says where to put them;
- points the official client at a local emulator when `KK_KAGGLE_URL=http://127.0.0.1:PORT` is set
  (`KAGGLE_API_ENVIRONMENT=LOCALHOST` plus the emulator as the HTTP proxy for `http://localhost`, the only
  way the unmodified client reaches another host; see the protocol notes in the README);
- retries connection errors, 429 (honouring `Retry-After`) and 5xx with exponential backoff;
- turns HTTP errors into `KKError`s that say what to do (401: bad key, 403: accept the rules, 404: unknown
  competition/dataset/kernel), and checks the answers the official client reports as success although they
  are failures (dataset create/version `status != ok`, kernel push `error`);
- keeps the key out of every message it produces.

The official client is imported lazily (it costs ~0.3 s and authenticates at import), so `kk --help` stays fast.

Example:
    >>> client = KaggleClient()                        # KKError if no credentials
    >>> [f.name for f in client.competition_files("digit-recognizer")]
    ['sample_submission.csv', 'test.csv', 'train.csv']
    >>> ref = client.submit("digit-recognizer", "submission.csv", "first try")
    >>> client.submission(ref).status
    'COMPLETE'
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from kaggle_kit.errors import KKError

URL_ENV = "KK_KAGGLE_URL"
KAGGLE_WEB = "https://www.kaggle.com"
T = TypeVar("T")
Progress = Callable[[int, "int | None"], None]

_NO_CREDENTIALS_HINT = (
    "Create an API token at https://www.kaggle.com/settings (section API, 'Create New Token') and either\n"
    "  - save the downloaded kaggle.json as ~/.kaggle/kaggle.json and run `chmod 600 ~/.kaggle/kaggle.json`,\n"
    "  - or put it in another folder and set KAGGLE_CONFIG_DIR to that folder,\n"
    "  - or export KAGGLE_USERNAME=<your username> and KAGGLE_KEY=<your key>.\n"
    "No account needed to try kk: `make demo` runs the whole loop against the bundled Kaggle emulator."
)


# --------------------------------------------------------------------------------------------------- credentials


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the official client looks for `kaggle.json`: `$KAGGLE_CONFIG_DIR`, `~/.kaggle`, else XDG's."""
    env = os.environ if env is None else env
    if env.get("KAGGLE_CONFIG_DIR"):
        return Path(env["KAGGLE_CONFIG_DIR"]).expanduser()
    home = Path(env.get("HOME") or Path.home())
    legacy = home / ".kaggle"
    if legacy.exists():
        return legacy
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"


@dataclass(frozen=True)
class Credentials:
    """Who kk talks to Kaggle as. `secret` (a legacy key or an access token) never appears in repr or messages."""

    username: str | None
    source: str
    secret: str = field(default="", repr=False)
    config_dir: Path | None = None

    def redact(self, text: str) -> str:
        """`text` with the secret (and the Basic-auth header value built from it) replaced by `***`."""
        if not self.secret:
            return text
        needles = {self.secret}
        if self.username:
            needles.add(base64.b64encode(f"{self.username}:{self.secret}".encode()).decode())
        for needle in sorted(needles, key=len, reverse=True):
            # Real keys are 32 hex digits; a toy key like the emulator's "local" would also erase ordinary words.
            if len(needle) >= 8:
                text = text.replace(needle, "***")
        return text


def _read_token(value: str) -> str:
    path = Path(value).expanduser()
    with contextlib.suppress(OSError):
        if path.is_file():
            return path.read_text().strip()
    return value.strip()


def find_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials the official client would use, in its order; a `KKError` saying where to put them if none.

    Order: `KAGGLE_API_TOKEN` (a token or a file holding one), `KAGGLE_USERNAME`/`KAGGLE_KEY` over
    `<config dir>/kaggle.json` (each field separately, as the client merges them), `~/.kaggle/access_token`,
    then the OAuth credentials written by `kaggle auth login`.
    """
    env = os.environ if env is None else env
    folder = config_dir(env)
    home = Path(env.get("HOME") or Path.home())
    if env.get("KAGGLE_API_TOKEN"):
        return Credentials(None, "KAGGLE_API_TOKEN", _read_token(env["KAGGLE_API_TOKEN"]), folder)

    file_values: dict[str, Any] = {}
    json_path = folder / "kaggle.json"
    if json_path.is_file():
        try:
            file_values = json.loads(json_path.read_text() or "{}") or {}
            if not isinstance(file_values, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as exc:
            raise KKError(f"{json_path}: not a valid kaggle.json ({type(exc).__name__}: {exc})",
                          hint='It should read {"username": "...", "key": "..."}.\n' + _NO_CREDENTIALS_HINT) from None
    username = env.get("KAGGLE_USERNAME") or file_values.get("username")
    key = env.get("KAGGLE_KEY") or file_values.get("key")
    if username and key:
        if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
            source = "KAGGLE_USERNAME/KAGGLE_KEY"
        elif file_values.get("username") and file_values.get("key") and not env.get("KAGGLE_USERNAME") \
                and not env.get("KAGGLE_KEY"):
            source = str(json_path)
        else:
            source = f"{json_path} and KAGGLE_USERNAME/KAGGLE_KEY"
        return Credentials(str(username), source, str(key), folder)
    if username or key:
        missing = "key" if username else "username"
        raise KKError(f"Kaggle credentials are incomplete: no {missing} (looked in KAGGLE_USERNAME/KAGGLE_KEY "
                      f"and {json_path})", hint=_NO_CREDENTIALS_HINT)

    for name in ("access_token", "access_token.txt"):
        token_file = home / ".kaggle" / name
        if token_file.is_file() and token_file.read_text().strip():
            return Credentials(None, str(token_file), token_file.read_text().strip(), folder)
    oauth = home / ".kaggle" / "credentials.json"
    if oauth.is_file():
        with contextlib.suppress(ValueError, OSError):
            data = json.loads(oauth.read_text())
            return Credentials(data.get("username"), str(oauth), data.get("refresh_token", ""), folder)
    raise KKError(f"no Kaggle credentials found (looked in KAGGLE_USERNAME/KAGGLE_KEY, {json_path} and "
                  "KAGGLE_API_TOKEN)", hint=_NO_CREDENTIALS_HINT)


# ------------------------------------------------------------------------------------------------------ routing


def emulator_url(env: Mapping[str, str] | None = None) -> str | None:
    """`KK_KAGGLE_URL` (an emulator's `http://HOST:PORT`), or None for the real kaggle.com."""
    env = os.environ if env is None else env
    url = (env.get(URL_ENV) or "").strip().rstrip("/")
    if not url:
        return None
    if not re.fullmatch(r"http://[^/\s:]+(:\d+)?", url):
        raise KKError(f"{URL_ENV}={url!r} is not an emulator address like http://127.0.0.1:8765",
                      hint="Start one with `kk emulator serve --store DIR` and copy the URL it prints.")
    return url


def routing_env(url: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that sends the unmodified official client (in-process or a subprocess) to `url`.

    The client only knows `http://localhost` (port 80) besides kaggle.com, so the emulator is used as the HTTP
    proxy for it; `localhost` must then not be in NO_PROXY. With `url=None` the environment is returned as is.
    """
    out = dict(os.environ if env is None else env)
    if url is None:
        return out
    out["KAGGLE_API_ENVIRONMENT"] = "LOCALHOST"
    out["HTTP_PROXY"] = out["http_proxy"] = url
    for name in ("NO_PROXY", "no_proxy"):
        if name in out:
            kept = [h for h in out[name].split(",") if h.strip() and h.strip() not in ("localhost", "*")]
            out[name] = ",".join(kept)
    return out


@contextlib.contextmanager
def _routed(url: str | None) -> Iterator[None]:
    """Apply `routing_env(url)` to this process for the duration of one call, then restore it."""
    if url is None:
        yield
        return
    wanted = routing_env(url)
    names = ("KAGGLE_API_ENVIRONMENT", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")
    saved = {n: os.environ.get(n) for n in names}
    for n in names:
        if n in wanted:
            os.environ[n] = wanted[n]
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


# ------------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class RemoteFile:
    """A file as the server lists it."""

    name: str
    size: int
    created: str | None = None


@dataclass(frozen=True)
class Submission:
    """One competition submission. Scores are strings, as Kaggle sends them ('' or None until scored)."""

    ref: int
    status: str
    public_score: str | None = None
    private_score: str | None = None
    description: str | None = None
    date: str | None = None
    file_name: str | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("COMPLETE", "ERROR")


@dataclass(frozen=True)
class SubmissionLimits:
    used_today: int
    allowed_now: int
    total: int
    limited_by_total: bool = False


@dataclass(frozen=True)
class Blob:
    """A downloaded blob: where it went, how big it is, and the server's Last-Modified (RFC 1123) if any."""

    path: Path
    size: int
    last_modified: str | None = None


@dataclass(frozen=True)
class DatasetResult:
    ref: str
    url: str | None = None


@dataclass(frozen=True)
class KernelPush:
    ref: str
    url: str | None
    version: int | None


@dataclass(frozen=True)
class KernelStatus:
    status: str  # QUEUED, RUNNING, COMPLETE, ERROR, CANCEL_REQUESTED, CANCEL_ACKNOWLEDGED, NEW_SCRIPT
    failure_message: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED")


@dataclass(frozen=True)
class _Target:
    """What a call acts on, for error messages."""

    kind: str  # "competition", "dataset", "kernel", "submission"
    name: str


def split_ref(ref: str, kind: str) -> tuple[str, str, int | None]:
    """`owner/slug[/version]` -> (owner, slug, version or None)."""
    parts = ref.strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise KKError(f"{kind} {ref!r} should look like OWNER/SLUG (or OWNER/SLUG/VERSION)")
    version = None
    if len(parts) == 3:
        try:
            version = int(parts[2].lstrip("v"))
        except ValueError:
            raise KKError(f"{kind} {ref!r}: version {parts[2]!r} is not a number") from None
    return parts[0], parts[1], version


def _enum_name(value: Any) -> str:
    return getattr(value, "name", None) or str(value)


def _iso(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _retry_after(response: Any) -> float | None:
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return None


# ------------------------------------------------------------------------------------------------------- client


class KaggleClient:
    """The official client, configured per call, with retries, clear errors and result checks.

    Args:
        credentials: default `find_credentials()` (raises a `KKError` naming where to put them).
        url: an emulator's `http://HOST:PORT`; default `$KK_KAGGLE_URL`, else kaggle.com.
        retries: attempts after the first one for retriable failures.
        backoff: first delay in seconds; doubles each attempt, capped at `max_backoff` (also caps Retry-After).

    Example:
        >>> client = KaggleClient(url="http://127.0.0.1:8765", backoff=0.05)
        >>> client.submission_limits("digit-recognizer").allowed_now
        5
    """

    def __init__(self, credentials: Credentials | None = None, url: str | None | object = ...,
                 retries: int = 5, backoff: float = 0.5, max_backoff: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.url: str | None = emulator_url() if url is ... else url  # type: ignore[assignment]
        self.credentials = credentials or find_credentials()
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._api = None

    # -- plumbing ---------------------------------------------------------------------------------------------

    @property
    def username(self) -> str | None:
        if self.credentials.username:
            return self.credentials.username
        api = self._official()
        return api.config_values.get("username")

    @property
    def where(self) -> str:
        return f"the Kaggle emulator at {self.url}" if self.url else "Kaggle"

    def _official(self):
        """A `KaggleApi` bound to these credentials and this endpoint (import and authentication happen here)."""
        if self._api is not None:
            return self._api
        chatter = io.StringIO()
        with _routed(self.url), contextlib.redirect_stdout(chatter):
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
                              hint=_NO_CREDENTIALS_HINT) from None
            except requests.exceptions.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                raise self._http_error(exc, status, _Target("credentials", self.credentials.source)) from None
            except requests.exceptions.RequestException as exc:
                raise self._connection_error(exc) from None
        self._api = api
        return api

    @contextlib.contextmanager
    def sdk(self) -> Iterator[Any]:
        """The official client's `kagglesdk.KaggleClient`, routed to this client's endpoint."""
        api = self._official()
        with _routed(self.url), api.build_kaggle_client() as kaggle:
            yield kaggle

    def call(self, fn: Callable[[], T], target: _Target, idempotent: bool = True, missing_ok: bool = False) -> T:
        """Run `fn` (routed), retrying transient failures; translate what is left into a `KKError`.

        A non-idempotent call (creating a submission) is retried only when the server certainly did not act
        on it: 429, 502/503/504, or no connection at all.
        """
        import requests

        attempt = 0
        while True:
            try:
                with _routed(self.url), contextlib.redirect_stdout(io.StringIO()):
                    return fn()
            except KKError:
                raise
            except requests.exceptions.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 404 and missing_ok:
                    return None  # type: ignore[return-value]
                transient = status in (429, 502, 503, 504) or (idempotent and status == 500)
                if transient and attempt < self.retries:
                    delay = _retry_after(exc.response) if status == 429 else None
                    self._wait(attempt, delay)
                    attempt += 1
                    continue
                raise self._http_error(exc, status, target) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                connect_only = isinstance(exc, (requests.exceptions.ProxyError, requests.exceptions.ConnectTimeout))
                # An emulator that refuses connections is not running: say so after a short wait, not 15 s.
                limit = min(self.retries, 2) if self.url and connect_only else self.retries
                if (idempotent or connect_only) and attempt < limit:
                    self._wait(attempt, None)
                    attempt += 1
                    continue
                raise self._connection_error(exc) from None
            except ValueError as exc:
                # The official client raises ValueError for what the user got wrong (metadata, slugs, folders).
                raise KKError(self.credentials.redact(f"{target.kind} {target.name}: {exc}")) from None

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self.backoff * (2 ** attempt)
        self._sleep(min(delay, self.max_backoff))

    def _connection_error(self, exc: Exception) -> KKError:
        if self.url:
            return KKError(f"cannot reach the Kaggle emulator at {self.url} ({type(exc).__name__})",
                           hint=f"Is `kk emulator serve` running there? Unset {URL_ENV} to use kaggle.com.")
        return KKError(f"cannot reach Kaggle ({type(exc).__name__}): {self.credentials.redact(str(exc))[:300]}",
                       hint="Check your internet connection (and any proxy settings), then try again.")

    def _http_error(self, exc: Exception, status: int, target: _Target) -> KKError:
        message = self.credentials.redact(str(exc)).strip()
        detail = f" ({message})" if message and not message.startswith(f"{status} ") else ""
        if status == 401:
            who = self.credentials.username or "your token"
            return KKError(f"{self.where} rejected the credentials for {who} (401 Unauthorized)",
                           hint=f"The key in {self.credentials.source} is wrong or expired: create a new token at "
                                f"{KAGGLE_WEB}/settings and replace it there.")
        if status == 403:
            if target.kind == "competition":
                return KKError(f"access to competition {target.name!r} was refused (403){detail}",
                               hint=f"Accept the competition rules at {KAGGLE_WEB}/competitions/{target.name}/rules "
                                    "(signed in as the same user), then try again.")
            return KKError(f"access to {target.kind} {target.name!r} was refused (403){detail}",
                           hint=f"It may be private to another user; check that {target.kind} belongs to, or is "
                                f"shared with, {self.credentials.username or 'you'}.")
        if status == 404:
            return KKError(f"unknown {target.kind} {target.name!r}: not found on {self.where}{detail}",
                           hint=f"Check the spelling; {target.kind} slugs look like "
                                + ("digit-recognizer." if target.kind == "competition" else "owner/slug."))
        if status == 429:
            return KKError(f"{self.where} is rate-limiting requests (429) after {self.retries + 1} attempts{detail}",
                           hint="Wait a minute and try again.")
        if status in (500, 502, 503, 504):
            return KKError(f"{self.where} had a server error ({status}) after {self.retries + 1} attempts on "
                           f"{target.kind} {target.name!r}{detail}", hint="This is on Kaggle's side; try again later.")
        return KKError(f"{self.where} refused the request on {target.kind} {target.name!r} ({status}){detail}")

    # -- competitions -----------------------------------------------------------------------------------------

    def competition_files(self, competition: str) -> list[RemoteFile]:
        """Every data file of `competition` (all pages) as the server lists it."""
        from kagglesdk.competitions.types.competition_api_service import ApiListDataFilesRequest

        target = _Target("competition", competition)
        files: list[RemoteFile] = []
        token = ""
        while True:
            def page(token=token):
                with self.sdk() as kaggle:
                    req = ApiListDataFilesRequest()
                    req.competition_name = competition
                    req.page_size = 200
                    req.page_token = token
                    return kaggle.competitions.competition_api_client.list_data_files(req)

            resp = self.call(page, target)
            files += [RemoteFile(f.name, int(f.total_bytes or 0), _iso(f.creation_date)) for f in resp.files or []]
            token = resp.next_page_token or ""
            if not token:
                return files

    def download_competition_zip(self, competition: str, dest: str | Path, progress: Progress | None = None) -> Blob:
        """Download the competition's all-files zip into `dest` (written in place; callers pass a temp path)."""
        from kagglesdk.competitions.types.competition_api_service import ApiDownloadDataFilesRequest

        def open_stream(kaggle):
            req = ApiDownloadDataFilesRequest()
            req.competition_name = competition
            return kaggle.competitions.competition_api_client.download_data_files(req)

        return self._download(open_stream, Path(dest), _Target("competition", competition), progress)

    def _download(self, open_stream: Callable[[Any], Any], dest: Path, target: _Target,
                  progress: Progress | None) -> Blob:
        """POST the download RPC, follow its redirect, and stream the blob to `dest`; whole-blob retries."""

        def fetch() -> Blob:
            with self.sdk() as kaggle:
                response = open_stream(kaggle)
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

    def submission_limits(self, competition: str) -> SubmissionLimits:
        from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionLimitsRequest

        def run():
            with self.sdk() as kaggle:
                req = ApiGetSubmissionLimitsRequest()
                req.competition_name = competition
                return kaggle.competitions.competition_api_client.get_submission_limits(req)

        r = self.call(run, _Target("competition", competition))
        return SubmissionLimits(int(r.num_today or 0), int(r.num_allowed_now or 0), int(r.num_total or 0),
                                bool(r.limited_by_total))

    def submit(self, competition: str, path: str | Path, message: str = "") -> int:
        """Upload `path` as a submission (start upload, PUT the bytes, create); returns the submission ref.

        The file is sent as is: validate it first (`kaggle_kit.kaggle.submit` does).
        """
        from kagglesdk.competitions.types.competition_api_service import (
            ApiCreateSubmissionRequest,
            ApiStartSubmissionUploadRequest,
        )

        path = Path(path)
        target = _Target("competition", competition)

        def start():
            with self.sdk() as kaggle:
                req = ApiStartSubmissionUploadRequest()
                req.competition_name = competition
                req.file_name = path.name
                req.content_length = path.stat().st_size
                req.last_modified_epoch_seconds = int(path.stat().st_mtime)
                return kaggle.competitions.competition_api_client.start_submission_upload(req)

        upload = self.call(start, target)
        self.call(lambda: self._put(upload.create_url, path), target)

        def create():
            with self.sdk() as kaggle:
                req = ApiCreateSubmissionRequest()
                req.competition_name = competition
                req.blob_file_tokens = upload.token
                if message:
                    req.submission_description = message
                return kaggle.competitions.competition_api_client.create_submission(req)

        created = self.call(create, target, idempotent=False)
        if not created.ref:
            raise KKError(f"{self.where} did not accept the submission to {competition!r}: "
                          f"{self.credentials.redact(created.message or 'no submission ref returned')}")
        return int(created.ref)

    def submit_kernel(self, competition: str, kernel: str, version: int | None = None,
                      file_name: str = "submission.csv", message: str = "") -> int:
        """Submit a kernel version's output file (code-competition style); returns the submission ref."""
        from kagglesdk.competitions.types.competition_api_service import ApiCreateCodeSubmissionRequest

        owner, slug, v = split_ref(kernel, "kernel")
        version = version or v

        def create():
            with self.sdk() as kaggle:
                req = ApiCreateCodeSubmissionRequest()
                req.competition_name = competition
                req.kernel_owner = owner
                req.kernel_slug = slug
                req.file_name = file_name
                if version:
                    req.kernel_version = int(version)
                if message:
                    req.submission_description = message
                return kaggle.competitions.competition_api_client.create_code_submission(req)

        created = self.call(create, _Target("competition", competition), idempotent=False)
        if not created.ref:
            raise KKError(f"{self.where} did not accept kernel {owner}/{slug} as a submission to {competition!r}: "
                          f"{self.credentials.redact(created.message or 'no submission ref returned')}")
        return int(created.ref)

    @staticmethod
    def _put(url: str, path: Path) -> None:
        """PUT the raw bytes to an upload URL (no auth header, as the official client does)."""
        import requests

        with requests.Session() as session, open(path, "rb") as f:
            response = session.put(url, data=f, headers={"Content-Length": str(path.stat().st_size)})
        if response.status_code not in (200, 201):
            response.raise_for_status()
            raise requests.exceptions.HTTPError(f"upload answered {response.status_code}", response=response)

    def submission(self, ref: int, competition: str | None = None) -> Submission | None:
        """One submission by ref; None while the server does not know it yet (404, as the official client does)."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionRequest

        def run():
            with self.sdk() as kaggle:
                req = ApiGetSubmissionRequest()
                req.ref = int(ref)
                return kaggle.competitions.competition_api_client.get_submission(req)

        s = self.call(run, _Target("submission", f"{ref}" + (f" of {competition}" if competition else "")),
                      missing_ok=True)
        return None if s is None else self._submission(s)

    def submissions(self, competition: str) -> list[Submission]:
        """Every submission to `competition` by this user (newest first, all pages)."""
        from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

        target = _Target("competition", competition)
        out: list[Submission] = []
        token = ""
        while True:
            def page(token=token):
                with self.sdk() as kaggle:
                    req = ApiListSubmissionsRequest()
                    req.competition_name = competition
                    req.page_size = 100
                    req.page_token = token
                    return kaggle.competitions.competition_api_client.list_submissions(req)

            resp = self.call(page, target)
            out += [self._submission(s) for s in resp.submissions or []]
            token = resp.next_page_token or ""
            if not token:
                return out

    @staticmethod
    def _submission(s: Any) -> Submission:
        return Submission(
            ref=int(s.ref), status=_enum_name(s.status), public_score=s.public_score or None,
            private_score=s.private_score or None, description=s.description, date=_iso(s.date),
            file_name=s.file_name, error=s.error_description or None,
        )

    # -- datasets ---------------------------------------------------------------------------------------------

    def dataset_version_number(self, ref: str) -> int | None:
        """The dataset's current version number (None if the server does not say)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest

        owner, slug, _ = split_ref(ref, "dataset")

        def run():
            with self.sdk() as kaggle:
                req = ApiGetDatasetRequest()
                req.owner_slug, req.dataset_slug = owner, slug
                return kaggle.datasets.dataset_api_client.get_dataset(req)

        ds = self.call(run, _Target("dataset", f"{owner}/{slug}"))
        return int(getattr(ds, "current_version_number", 0) or 0) or None

    def dataset_status(self, ref: str) -> str | None:
        """`ready`, `blobs_received`, ... (lower case), or None if the dataset does not exist (or is not visible)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetStatusRequest

        owner, slug, _ = split_ref(ref, "dataset")

        def run():
            with self.sdk() as kaggle:
                req = ApiGetDatasetStatusRequest()
                req.owner_slug, req.dataset_slug = owner, slug
                return kaggle.datasets.dataset_api_client.get_dataset_status(req)

        r = self.call(run, _Target("dataset", f"{owner}/{slug}"), missing_ok=True)
        return None if r is None else _enum_name(r.status).lower()

    def dataset_create(self, folder: str | Path, public: bool = False, dir_mode: str = "zip") -> DatasetResult:
        """Create the dataset described by `folder/dataset-metadata.json` from the files in `folder`."""
        folder = Path(folder)
        ref = self._metadata_id(folder, "dataset-metadata.json")
        api = self._official()
        result = self._checked_upload(
            lambda: api.dataset_create_new(str(folder), public=public, quiet=False, dir_mode=dir_mode),
            _Target("dataset", ref), "create")
        return DatasetResult(ref, result.url)

    def dataset_version(self, folder: str | Path, notes: str, delete_old_versions: bool = False,
                        dir_mode: str = "zip") -> DatasetResult:
        """Upload `folder`'s files as a new version of its dataset (the file set is replaced)."""
        folder = Path(folder)
        ref = self._metadata_id(folder, "dataset-metadata.json")
        api = self._official()
        result = self._checked_upload(
            lambda: api.dataset_create_version(str(folder), notes, quiet=False, delete_old_versions=delete_old_versions,
                                               dir_mode=dir_mode),
            _Target("dataset", ref), "version")
        return DatasetResult(ref, result.url)

    def _checked_upload(self, fn: Callable[[], Any], target: _Target, action: str) -> Any:
        """Run a dataset create/version and check what the official client would report with exit code 0."""
        chatter = io.StringIO()

        def run():
            # stdout carries the per-file verdicts; stderr only the client's tqdm bars.
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(io.StringIO()):
                return fn()

        result = self.call(run, target, idempotent=False)
        failed = [line.split(":", 1)[1].strip() for line in chatter.getvalue().splitlines()
                  if line.startswith("Upload unsuccessful:")]
        if failed:
            raise KKError(f"dataset {action} {target.name}: upload of {', '.join(failed)} failed; nothing was created")
        status = (result.status or "").lower()
        if status != "ok" or result.error:
            error = self.credentials.redact(result.error or f"status {result.status!r}")
            raise KKError(f"dataset {action} {target.name} failed: {error}")
        return result

    @staticmethod
    def _metadata_id(folder: Path, name: str) -> str:
        meta = folder / name
        if not meta.is_file():
            raise KKError(f"{meta}: metadata file not found")
        try:
            data = json.loads(meta.read_text())
        except ValueError as exc:
            raise KKError(f"{meta}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not data.get("id"):
            raise KKError(f"{meta}: field 'id' (OWNER/SLUG) is missing")
        return str(data["id"])

    def dataset_files(self, ref: str) -> list[RemoteFile]:
        """The files of dataset `owner/slug[/version]` (all pages)."""
        from kagglesdk.datasets.types.dataset_api_service import ApiListDatasetFilesRequest

        owner, slug, version = split_ref(ref, "dataset")
        target = _Target("dataset", ref)
        files: list[RemoteFile] = []
        token = ""
        while True:
            def page(token=token):
                with self.sdk() as kaggle:
                    req = ApiListDatasetFilesRequest()
                    req.owner_slug, req.dataset_slug = owner, slug
                    req.dataset_version_number = version
                    req.page_size = 200
                    req.page_token = token
                    return kaggle.datasets.dataset_api_client.list_dataset_files(req)

            resp = self.call(page, target)
            if resp.error_message:
                raise KKError(f"dataset {ref}: {self.credentials.redact(resp.error_message)}")
            files += [RemoteFile(f.name, int(f.total_bytes or 0), _iso(f.creation_date))
                      for f in resp.dataset_files or []]
            token = resp.next_page_token or ""
            if not token:
                return files

    def dataset_download(self, ref: str, path: str | Path, file_name: str | None = None,
                         progress: Progress | None = None) -> list[Path]:
        """Download dataset `owner/slug[/version]` (or one `file_name` of it) into folder `path`, unzipped.

        Archive members are extracted safely (nothing lands outside `path`) and every file is moved into place
        only once the whole download is complete. Returns the files written.
        """
        from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

        from kaggle_kit.kaggle.transfer import install_download

        owner, slug, version = split_ref(ref, "dataset")

        def open_stream(kaggle):
            req = ApiDownloadDatasetRequest()
            req.owner_slug, req.dataset_slug = owner, slug
            req.dataset_version_number = version
            if file_name:
                req.file_name = file_name
            return kaggle.datasets.dataset_api_client.download_dataset(req)

        target = _Target("dataset", ref)
        return install_download(
            lambda tmp: self._download(open_stream, tmp, target, progress), Path(path),
            name=file_name or f"{slug}.zip", unzip=file_name is None or file_name.endswith(".zip"))

    # -- kernels ----------------------------------------------------------------------------------------------

    def kernel_push(self, folder: str | Path, timeout: int | None = None,
                    accelerator: str | None = None) -> KernelPush:
        """Push `folder` (kernel-metadata.json + code) as a new kernel version; a `KKError` on any push error."""
        folder = Path(folder)
        ref = self._metadata_id(folder, "kernel-metadata.json")
        api = self._official()
        target = _Target("kernel", ref)
        r = self.call(lambda: api.kernels_push(str(folder), str(timeout) if timeout else None, accelerator),
                      target, idempotent=False)
        if r.error:
            raise KKError(f"kernel push {ref} failed: {self.credentials.redact(r.error)}")
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

    def kernel_status(self, ref: str, version: int | None = None) -> KernelStatus:
        """Status of kernel `owner/slug` (its latest version, or `version`)."""
        from kagglesdk.kernels.types.kernels_api_service import ApiGetKernelSessionStatusRequest

        owner, slug, v = split_ref(ref, "kernel")
        version = version or v

        def run():
            with self.sdk() as kaggle:
                req = ApiGetKernelSessionStatusRequest()
                req.user_name, req.kernel_slug = owner, slug
                if version:
                    req.version_label = f"v{version}"
                return kaggle.kernels.kernels_api_client.get_kernel_session_status(req)

        r = self.call(run, _Target("kernel", f"{owner}/{slug}"))
        return KernelStatus(_enum_name(r.status), r.failure_message or None)

    def kernel_output(self, ref: str, path: str | Path, version: int | None = None,
                      pattern: str | None = None) -> list[Path]:
        """Download a kernel's output files (and its log as `<slug>.log`) into `path`; returns the files written.

        Unlike the official client, a file name that would land outside `path` is refused, and each file is
        written atomically.
        """
        from kagglesdk.kernels.types.kernels_api_service import ApiListKernelSessionOutputRequest

        from kaggle_kit.io import atomic_write_text
        from kaggle_kit.kaggle.transfer import safe_member_path

        owner, slug, v = split_ref(ref, "kernel")
        version = version or v
        target = _Target("kernel", f"{owner}/{slug}")
        folder = Path(path)
        regex = re.compile(pattern) if pattern else None
        written: list[Path] = []
        log_parts: list[str] = []
        token = ""
        while True:
            def page(token=token):
                with self.sdk() as kaggle:
                    req = ApiListKernelSessionOutputRequest()
                    req.user_name, req.kernel_slug = owner, slug
                    req.page_size = 100
                    req.page_token = token
                    if version:
                        req.version_label = f"v{version}"
                    return kaggle.kernels.kernels_api_client.list_kernel_session_output(req)

            resp = self.call(page, target)
            for item in resp.files or []:
                if regex and not regex.search(item.file_name):
                    continue
                dest = safe_member_path(folder, item.file_name)
                written.append(self._fetch_url(item.url, dest, target))
            if resp.log:
                log_parts.append(resp.log)
            token = resp.next_page_token or ""
            if not token:
                break
        if log_parts:
            written.append(atomic_write_text(folder / f"{slug}.log", "".join(log_parts)))
        return written

    def _fetch_url(self, url: str, dest: Path, target: _Target) -> Path:
        """GET an absolute blob URL (no auth, like the official client) into `dest` atomically."""
        import requests

        from kaggle_kit.io import atomic_path

        def run():
            with atomic_path(dest) as tmp, requests.get(url, stream=True, timeout=300) as r:
                r.raise_for_status()
                with open(tmp, "wb") as out:
                    for chunk in r.iter_content(chunk_size=1 << 20):
                        out.write(chunk)
            return dest

        return self.call(run, target)

    def kernel_pull(self, ref: str, path: str | Path, metadata: bool = True) -> Path:
        """Download a kernel's code (and its kernel-metadata.json) into `path`; returns the folder."""
        owner, slug, v = split_ref(ref, "kernel")
        api = self._official()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        kernel = f"{owner}/{slug}" + (f"/{v}" if v else "")
        self.call(lambda: api.kernels_pull(kernel, str(folder), metadata=metadata, quiet=True),
                  _Target("kernel", f"{owner}/{slug}"))
        return folder
