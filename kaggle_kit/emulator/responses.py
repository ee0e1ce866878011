"""The HTTP layer: a werkzeug WSGI app that speaks the official client's wire protocol over an `EmulatorBackend`.

Routes:

    POST /api/v1/<pkg>.<Service>/<Method>   RPCs: JSON in, JSON out (handlers from `api.rpc_handlers()`)
    GET  /blobs/<root>/<path>?sig=...       downloads (302 targets): Content-Length, stable Last-Modified, ranges
    PUT  /upload/<token>                    uploads (`createUrl`): data PUTs and `Content-Range: bytes */N` probes
    GET|POST|DELETE /_emulator/faults       test-only control: list / add / clear injected faults
    GET|DELETE /_emulator/calls             test-only: the calls seen so far (RPC name, status, user)
    POST /_emulator/rules                   {"competition", "user"}: that user accepts the competition's rules
    (faults, calls and rules need the admin token: `X-KK-Admin-Token: <token>` or `Bearer <token>`)
    GET  /_emulator/health                  liveness plus the competitions served

Errors are Kaggle's shape, `{"code": N, "message": "..."}` with HTTP status N. Credentials: HTTP Basic
(`user:key`) or `Bearer <token>`; a wrong key is 401. The client may use the emulator as its HTTP proxy
(absolute-form request targets such as `POST http://localhost/api/v1/...`): werkzeug's server already takes the
host from such a target, and `AbsoluteFormMiddleware` does it for WSGI servers that do not. URLs handed out
(blobs, uploads) are built from the host the client used, so they come back the same way.

Example:
    >>> from werkzeug.test import Client
    >>> backend = EmulatorBackend(None)
    >>> Client(EmulatorApp(backend)).post("/api/v1/competitions.CompetitionApiService/ListCompetitions").status_code
    401
    >>> backend.close()
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from kaggle_kit.emulator.api import Redirect, Rpc, RpcContext, rpc_handlers
from kaggle_kit.emulator.core import DOWNLOAD, UPLOAD, EmulatorError
from kaggle_kit.emulator.models import EmulatorBackend

log = logging.getLogger("kaggle_kit.emulator")

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_CHUNK = 1 << 20
ADMIN_HEADER = "X-KK-Admin-Token"


@dataclass
class CallRecord:
    """One request the emulator answered: `method` is the RPC name, or upload / probe / download / control."""

    method: str
    status: int
    user: str | None = None


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(obj), status=status, headers=headers, mimetype="application/json")


def error_response(exc: EmulatorError) -> Response:
    return json_response({"code": exc.code, "message": exc.message}, exc.code, exc.headers)


class AbsoluteFormMiddleware:
    """Turn an absolute-form target (`http://localhost/api/...`, a proxy request) into path + Host."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            environ["PATH_INFO"] = parts.path or "/"
            environ["HTTP_HOST"] = parts.netloc
            if parts.query and not environ.get("QUERY_STRING"):
                environ["QUERY_STRING"] = parts.query
        return self.app(environ, start_response)


class EmulatorApp:
    """The WSGI application. `backend` holds all state; `handlers` maps RPC names to handlers."""

    max_calls = 10_000
    # The control API changes what every user sees (faults) or shows who called what (calls): admin token only.
    admin_endpoints = frozenset({"faults", "calls", "rules"})

    def __init__(self, backend: EmulatorBackend, handlers: dict[str, Rpc] | None = None) -> None:
        self.backend = backend
        self.handlers = rpc_handlers() if handlers is None else handlers
        self.calls: list[CallRecord] = []
        self._calls_lock = threading.Lock()
        self.url_map = Map([
            Rule("/api/v1/<path:rpc>", methods=["POST"], endpoint="rpc"),
            Rule("/blobs/<root>/<path:rel>", methods=["GET", "HEAD"], endpoint="blob"),
            Rule("/upload/<token>", methods=["PUT"], endpoint="upload"),
            Rule("/_emulator/faults", methods=["GET", "POST", "DELETE"], endpoint="faults"),
            Rule("/_emulator/calls", methods=["GET", "DELETE"], endpoint="calls"),
            Rule("/_emulator/rules", methods=["POST"], endpoint="rules"),
            Rule("/_emulator/health", methods=["GET"], endpoint="health"),
        ], strict_slashes=False)

    # -- WSGI --------------------------------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        record = CallRecord(method=request.path, status=500)
        try:
            adapter = self.url_map.bind_to_environ(environ)
            endpoint, args = adapter.match()
            if endpoint in self.admin_endpoints:
                self._require_admin(request)
            response = getattr(self, f"on_{endpoint}")(request, record, **args)
        except EmulatorError as exc:
            response = error_response(exc)
        except HTTPException as exc:
            response = error_response(EmulatorError(exc.code or 500, exc.description or exc.name))
        except Exception as exc:  # a bug: say so in Kaggle's error shape and keep the traceback in the log
            log.error("emulator error on %s %s\n%s", request.method, request.path, traceback.format_exc())
            response = error_response(EmulatorError(500, f"Internal emulator error: {type(exc).__name__}: {exc}"))
        record.status = response.status_code
        with self._calls_lock:
            self.calls.append(record)
            del self.calls[: -self.max_calls]
        return response(environ, start_response)

    # -- auth --------------------------------------------------------------------------------------------------------

    def _user(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "").strip()
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                name, sep, key = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                name, sep, key = "", "", ""
            if not sep:
                raise EmulatorError(401, "Unauthenticated: malformed Basic credentials")
            return self.backend.authenticate(name, key)
        if scheme.lower() == "bearer":
            user = self.backend.user_for_token(value.strip())
            if user is None:
                raise EmulatorError(401, "Unauthenticated: invalid or expired access token")
            return user
        raise EmulatorError(401, f"Unauthenticated: unsupported authorization scheme {scheme!r}")

    def _require_admin(self, request: Request) -> None:
        token = request.headers.get(ADMIN_HEADER, "").strip()
        scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
        if not token and scheme.lower() == "bearer":
            token = value.strip()
        if not self.backend.is_admin(token):
            raise EmulatorError(401, f"The emulator's control API needs its admin token ({ADMIN_HEADER} header or "
                                     "Bearer); `kk emulator serve` prints where it wrote it")

    # -- endpoints ---------------------------------------------------------------------------------------------------

    def on_rpc(self, request: Request, record: CallRecord, rpc: str) -> Response:
        record.method = rpc
        raw = request.get_data()  # read it even when refusing: keeps the keep-alive connection in sync
        handler = self.handlers.get(rpc)
        if handler is None:
            raise EmulatorError(501, f"The Kaggle emulator does not implement {rpc}")
        user = None if handler.auth == "none" else self._user(request)
        if user is None and handler.auth == "required":
            raise EmulatorError(401, "Unauthenticated: send your Kaggle username and key (HTTP Basic)")
        record.user = user
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise EmulatorError(400, f"{rpc}: request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise EmulatorError(400, f"{rpc}: request body must be a JSON object")
        fault = self.backend.faults.take(rpc)
        if fault is not None:
            raise fault.error(rpc)
        result = handler.handler(RpcContext(self.backend, user, request.host_url.rstrip("/"), rpc), body)
        if isinstance(result, Redirect):
            return Response(status=302, headers={"Location": request.host_url.rstrip("/") + result.path})
        return json_response(result)

    def on_blob(self, request: Request, record: CallRecord, root: str, rel: str) -> Response:
        record.method = DOWNLOAD
        fault = self.backend.faults.take(DOWNLOAD)
        if fault is not None:
            raise fault.error(DOWNLOAD)
        path = self.backend.blobs.resolve(root, rel, request.args.get("sig"))
        stat = path.stat()
        # conditional=True: ETag, Last-Modified (the file's mtime: stable), Accept-Ranges and Range/If-Range.
        response = send_file(path, request.environ, mimetype="application/octet-stream", conditional=True,
                             etag=True, last_modified=stat.st_mtime, max_age=None)
        response.headers.pop("Date", None)  # the server adds its own; two make a malformed header
        return response

    def on_upload(self, request: Request, record: CallRecord, token: str) -> Response:
        blobs = self.backend.blobs
        content_range = request.headers.get("Content-Range", "").strip()
        if content_range.startswith("bytes */"):
            record.method = "probe"
            request.get_data()
            status, received = blobs.probe(token)
            return self._upload_answer(status, received)
        record.method = UPLOAD
        start = total = None
        if content_range:
            m = _CONTENT_RANGE.match(content_range)
            if not m:
                raise EmulatorError(400, f"Malformed Content-Range {content_range!r}")
            start, total = int(m.group(1)), (None if m.group(3) == "*" else int(m.group(3)))
        blobs.get_upload(token)  # 404 before reading a body for an unknown/expired upload
        fault = self.backend.faults.take(UPLOAD)
        chunks = self._body_chunks(request)
        if fault is not None:
            blobs.write(token, chunks, start, total, keep_bytes=fault.keep_bytes or 0)
            raise fault.error(UPLOAD)
        status, received = blobs.write(token, chunks, start, total)
        return self._upload_answer(status, received)

    @staticmethod
    def _body_chunks(request: Request) -> Iterator[bytes]:
        stream = request.stream
        while chunk := stream.read(_CHUNK):
            yield chunk

    @staticmethod
    def _upload_answer(status: int, received: int) -> Response:
        if status == 200:
            return json_response({})
        headers = {"Range": f"bytes=0-{received - 1}"} if received > 0 else {}
        return Response(status=308, headers=headers)

    def on_faults(self, request: Request, record: CallRecord) -> Response:
        record.method = "control"
        faults = self.backend.faults
        if request.method == "POST":
            spec = request.get_json(force=True, silent=True)
            if not isinstance(spec, dict) or not spec.get("method"):
                raise EmulatorError(400, 'POST /_emulator/faults wants {"method": ..., "status": 503, "times": 1}')
            allowed = {"method", "status", "times", "message", "keep_bytes", "retry_after", "rate", "seed"}
            unknown = set(spec) - allowed
            if unknown:
                raise EmulatorError(400, f"unknown fault field(s): {', '.join(sorted(unknown))}")
            try:
                fault = faults.add(**spec)
            except (TypeError, ValueError) as exc:
                raise EmulatorError(400, str(exc)) from None
            return json_response({"fault": asdict(fault)}, 201)
        if request.method == "DELETE":
            faults.clear()
        return json_response({"faults": faults.pending()})

    def on_calls(self, request: Request, record: CallRecord) -> Response:
        record.method = "control"
        with self._calls_lock:
            if request.method == "DELETE":
                self.calls.clear()
            calls = [asdict(c) for c in self.calls]
        return json_response({"calls": calls})

    def on_rules(self, request: Request, record: CallRecord) -> Response:
        record.method = "control"
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not spec.get("competition") or not spec.get("user"):
            raise EmulatorError(400, 'POST /_emulator/rules wants {"competition": SLUG, "user": NAME}')
        self.backend.competitions.accept_rules(str(spec["user"]), str(spec["competition"]),
                                               known_users=self.backend.users)
        return json_response({"accepted": True, "competition": spec["competition"], "user": spec["user"]})

    def on_health(self, request: Request, record: CallRecord) -> Response:
        record.method = "control"
        return json_response({"ok": True, "competitions": sorted(self.backend.competitions.competitions)})
