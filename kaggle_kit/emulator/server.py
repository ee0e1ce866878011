"""`EmulatorServer`: the emulator on a real, threaded HTTP server (werkzeug), in the background or in front.

The port is bound when the server is constructed (`port=0` picks a free one), so `.url` is known before
`.start()`. Point the official client at it with `KAGGLE_API_ENVIRONMENT=LOCALHOST` and `HTTP_PROXY=<url>`
(see `kaggle_kit.emulator.testing.client_env`), or `kk` with `KK_KAGGLE_URL=<url>`.

Example:
    >>> with EmulatorServer(None) as server:                   # no competitions; a background thread
    ...     _ = server.add_fault("ListDataFiles", status=503)  # the next ListDataFiles call fails once
    ...     server.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from kaggle_kit.emulator.core import Fault
from kaggle_kit.emulator.models import EmulatorBackend
from kaggle_kit.emulator.responses import ADMIN_HEADER, AbsoluteFormMiddleware, CallRecord, EmulatorApp

ADMIN_TOKEN_FILE = "admin-token"  # under the state folder, mode 600


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (tests make thousands); errors are still logged."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class EmulatorServer:
    """The Kaggle emulator serving `store` (read-only competitions) with mutable state under `state`.

    `state=None` uses a fresh temporary folder, removed by `stop()`; a given `state` folder is kept and reloaded
    on the next start. `users` are `NAME:KEY` strings or a `{name: key}` mapping (in-process only: the CLI reads
    them from a file or the environment). The control API's token is `admin_token`, also written to
    `<state>/admin-token` (mode 600). `scoring_delay` is how long a new submission reads as
    PENDING. `clock` (epoch seconds) lets tests move time (daily limits, deadlines). `log_requests` prints one
    access-log line per request to stderr.
    """

    def __init__(self, store: str | Path | None, state: str | Path | None = None,
                 users: Iterable[str] | Mapping[str, str] = ("local:local",), host: str = "127.0.0.1", port: int = 0, *,
                 scoring_delay: float = 0.0, clock: Callable[[], float] | None = None,
                 log_requests: bool = False) -> None:
        # Bind first (a taken port raises OSError before any state folder exists). werkzeug's own bind would
        # call sys.exit(1) instead, so it gets the bound socket's descriptor.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            kwargs = {"clock": clock} if clock is not None else {}
            self.backend = EmulatorBackend(store, state, users=users, scoring_delay=scoring_delay, **kwargs)
            self.app = EmulatorApp(self.backend)
            handler = WSGIRequestHandler if log_requests else _QuietHandler
            if not log_requests:
                logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._server: BaseWSGIServer = make_server(host, port, AbsoluteFormMiddleware(self.app), threaded=True,
                                                       request_handler=handler, fd=sock.fileno())
        self.host = host
        self.port: int = self._server.port
        self.admin_token_file = self.backend.state_dir / ADMIN_TOKEN_FILE
        self._write_admin_token()
        self._thread: threading.Thread | None = None

    def _write_admin_token(self) -> None:
        # Owner-only from the first byte: the token lets its holder fail every call and read who called what.
        tmp = self.admin_token_file.with_name(f".{ADMIN_TOKEN_FILE}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.backend.admin_token + "\n")
        os.replace(tmp, self.admin_token_file)

    @property
    def admin_token(self) -> str:
        """The control API's token (`/_emulator/faults`, `/_emulator/calls`, `/_emulator/rules`)."""
        return self.backend.admin_token

    @property
    def admin_headers(self) -> dict[str, str]:
        """Headers that authorise a control-API request: `requests.get(url, headers=server.admin_headers)`."""
        return {ADMIN_HEADER: self.backend.admin_token}

    @property
    def url(self) -> str:
        """`http://HOST:PORT` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def calls(self) -> list[CallRecord]:
        """Every request answered so far, oldest first (a copy)."""
        with self.app._calls_lock:
            return list(self.app.calls)

    def rpc_calls(self, method: str) -> list[CallRecord]:
        """The calls of one RPC (`"CreateSubmission"` or its full name), or `"upload"`, `"probe"`, `"download"`."""
        return [c for c in self.calls if c.method == method or c.method.endswith("/" + method)]

    def add_fault(self, method: str, status: int = 503, times: int = 1, message: str | None = None,
                  keep_bytes: int | None = None, retry_after: float | None = None) -> Fault:
        """Fail the next `times` calls of `method` (an RPC name, `"upload"` or `"download"`) with `status`."""
        return self.backend.faults.add(method, status, times, message, keep_bytes, retry_after)

    def clear_faults(self) -> None:
        self.backend.faults.clear()

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Serve in a background (daemon) thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name=f"kaggle-emulator-{self.port}",
                                            daemon=True)
            self._thread.start()
        return self

    def warm_archives(self, on_error: Callable[[Exception], None] | None = None) -> threading.Thread:
        """Build every competition's download zip in a background thread, so the first download need not wait.

        A full-size competition takes seconds to zip. A failure goes to `on_error` (the download RPC reports it
        again when a client asks); the server keeps serving either way.
        """

        def warm() -> None:
            try:
                self.backend.competitions.warm_archives()
            except Exception as exc:  # noqa: BLE001 - reported, never fatal: downloads build their archive anyway
                if on_error is not None:
                    on_error(exc)

        thread = threading.Thread(target=warm, name="warm-archives", daemon=True)
        thread.start()
        return thread

    def serve_forever(self) -> None:
        """Serve in this thread until `KeyboardInterrupt` (or `stop()` from another thread)."""
        try:
            self._server.serve_forever()
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._server.server_close()
        self.backend.close()  # running kernel processes must not outlive the server

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
