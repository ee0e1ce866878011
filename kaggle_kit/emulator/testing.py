"""Helpers for tests and the demo: run an emulator, and build the environment that points a client at it.

    running_emulator(store, state=None, users=("local:local",), **server_kwargs)  context manager -> EmulatorServer
    client_env(server, home, user="local", key="local", tmpdir=None)             env for `kaggle` / `kk` subprocesses
    kaggle_cli()                                                                  path of the official CLI in the venv
    call_rpc(server, rpc, body=None, user="local", key="local")                  one raw RPC -> requests.Response
    control(server, "POST", "faults", json={...})                                 the admin-only control API
    ManualClock(start=None)                                                       a clock tests move (`advance(days=1)`)

Example (the official CLI against a local emulator, isolated in its own HOME and TMPDIR):

    with running_emulator(store) as server:
        env = client_env(server, tmp_path / "home")
        subprocess.run([kaggle_cli(), "competitions", "files", "digit-recognizer"], env=env, check=True)
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from kaggle_kit.emulator.server import EmulatorServer

# Variables that would send the client elsewhere or leak another identity into a test.
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


@contextlib.contextmanager
def running_emulator(store: str | Path | None, state: str | Path | None = None,
                     users: Iterable[str] = ("local:local",), **kwargs) -> Iterator[EmulatorServer]:
    """An `EmulatorServer` started in a background thread for the duration of the `with` block.

    Extra keyword arguments go to `EmulatorServer` (`scoring_delay`, `clock`, `host`, `port`, `log_requests`).
    """
    server = EmulatorServer(store, state, users=users, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client_env(server: EmulatorServer | str, home: str | Path, user: str = "local", key: str = "local",
               tmpdir: str | Path | None = None) -> dict[str, str]:
    """A full environment for running the official `kaggle` CLI or `kk` as a subprocess against `server`.

    It is a copy of `os.environ` without any `KAGGLE_*` or proxy variables, plus: `HOME=home` (created),
    `XDG_CONFIG_HOME=home/.config`, `TMPDIR=tmpdir` (default `home/tmp`, created: the client keeps resumable-upload
    state there), `KAGGLE_USERNAME`/`KAGGLE_KEY`, `KAGGLE_API_ENVIRONMENT=LOCALHOST` (the client then talks to
    `http://localhost`), `HTTP_PROXY`/`http_proxy=<server url>` (so that traffic reaches the emulator on its real
    port) and `KK_KAGGLE_URL=<server url>` (for `kk`). `server` may also be a URL string.
    """
    url = server if isinstance(server, str) else server.url
    home = Path(home)
    tmp = Path(tmpdir) if tmpdir is not None else home / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KAGGLE_") and k.lower() not in _PROXY_VARS and k != "KK_KAGGLE_URL"}
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "TMPDIR": str(tmp),
        "KAGGLE_USERNAME": user,
        "KAGGLE_KEY": key,
        "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
        "HTTP_PROXY": url,
        "http_proxy": url,
        "KK_KAGGLE_URL": url,
    })
    return env


def call_rpc(server: EmulatorServer | str, rpc: str, body: dict | None = None, user: str | None = "local",
             key: str = "local", follow_redirects: bool = False):
    """POST one RPC (`"competitions.CompetitionApiService/GetSubmission"`) straight to the server: a `requests.Response`.

    For checks the official client does not print (e.g. a submission's `errorDescription`). `user=None` sends no
    credentials.
    """
    import requests

    url = server if isinstance(server, str) else server.url
    return requests.post(f"{url}/api/v1/{rpc}", json=body or {}, auth=(user, key) if user else None,
                         allow_redirects=follow_redirects, timeout=60)


def control(server: EmulatorServer, method: str, route: str, **kwargs):
    """One control-API request (`/_emulator/<route>`) with the server's admin token: a `requests.Response`."""
    import requests

    headers = {**server.admin_headers, **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}/_emulator/{route}", headers=headers, timeout=60, **kwargs)


class ManualClock:
    """A clock for `EmulatorServer(clock=...)` that only moves when told (daily limits, deadlines, PENDING).

    Example:
        >>> clock = ManualClock(start=0.0)
        >>> with running_emulator(None, clock=clock) as server:
        ...     clock.advance(days=1)   # the daily submission limit resets
        86400.0
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 0.0, days: float = 0.0) -> float:
        self.now += seconds + 86400.0 * days
        return self.now


def kaggle_cli() -> str:
    """Path of the official `kaggle` CLI installed beside the running Python (the project's venv)."""
    path = Path(sys.executable).parent / "kaggle"
    return str(path) if path.exists() else "kaggle"
