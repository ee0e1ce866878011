"""The emulator's backend: all state and behaviour, no HTTP (moto's models/responses split).

`EmulatorBackend` is the root (the `core.EmulatorRoot` the services see). It owns the users, the clock, one lock,
the fault queue, and one backend per entry of `services.SERVICES`, reachable as attributes (`backend.blobs`,
`backend.competitions`, `backend.datasets`, `backend.kernels`) or by class (`backend.service(BlobStore)`).
Each service persists its own state as `<state>/<name>.json` plus files under `<state>/<name>/`, so an emulator
restarted on the same `state` folder carries on where it stopped.

Example:
    >>> backend = EmulatorBackend(None, users=("local:local",))  # no store: no competitions
    >>> backend.authenticate("local", "local"), backend.competitions.list()
    ('local', [])
    >>> backend.service(BlobStore) is backend.blobs
    True
    >>> backend.close()
"""

from __future__ import annotations

import hmac
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from kaggle_kit.emulator.blobs import BlobStore
from kaggle_kit.emulator.competitions import CompetitionsBackend
from kaggle_kit.emulator.core import EmulatorError, Faults, S, ServiceBackend, parse_user
from kaggle_kit.emulator.datasets import DatasetsBackend
from kaggle_kit.emulator.kernels import KernelsBackend
from kaggle_kit.emulator.services import SERVICES


class EmulatorBackend:
    """All of the emulator's state: read-only `store`, mutable `state` folder (a fresh temp folder if None)."""

    blobs: BlobStore
    competitions: CompetitionsBackend
    datasets: DatasetsBackend
    kernels: KernelsBackend

    def __init__(self, store: str | Path | None, state: str | Path | None = None,
                 users: Iterable[str] | Mapping[str, str] = ("local:local",), clock: Callable[[], float] = time.time,
                 scoring_delay: float = 0.0, admin_token: str | None = None) -> None:
        self.store_dir = Path(store).resolve() if store is not None else None
        if self.store_dir is not None and not self.store_dir.is_dir():
            raise ValueError(f"store folder {self.store_dir} does not exist")
        self.owns_state = state is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="kk-emulator-state-") if state is None else state).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # In-process callers may pass keys directly (`{"name": "key"}` or "NAME:KEY" strings); the CLI never
        # does (argv is public), it reads `core.load_users`.
        self.users: dict[str, str] = (dict(parse_user(f"{k}:{v}") for k, v in users.items())
                                      if isinstance(users, Mapping) else dict(parse_user(u) for u in users))
        if not self.users:
            raise ValueError("the emulator needs at least one user (NAME:KEY)")
        # The control API (/_emulator/calls, /_emulator/faults) answers only to this token, never to a user key.
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.clock = clock
        self.scoring_delay = scoring_delay  # seconds a new submission reads as PENDING
        self.lock = threading.RLock()
        self.faults = Faults()
        self.services: dict[str, ServiceBackend] = {}
        try:
            for entry in SERVICES:
                if entry.backend is None:
                    continue
                service = entry.backend(self)
                service.restore()
                self.services[entry.name] = service
                setattr(self, entry.name, service)
        except BaseException:
            if self.owns_state:  # e.g. a broken competition.json: leave no temporary folder behind
                shutil.rmtree(self.state_dir, ignore_errors=True)
            raise

    def service(self, cls: type[S]) -> S:
        """The service backend of class `cls` (how one service reaches another)."""
        for service in self.services.values():
            if isinstance(service, cls):
                return service
        raise LookupError(f"no {cls.__name__} service in this emulator (see services.SERVICES)")

    def close(self) -> None:
        """Stop what the services run (kernel sessions) and remove the state folder if it is a temporary one."""
        for service in self.services.values():
            service.close()
        if self.owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- users -------------------------------------------------------------------------------------------------------

    def authenticate(self, username: str, key: str) -> str:
        """The user for HTTP Basic credentials, or 401."""
        if self.users.get(username) != key:
            raise EmulatorError(401, "Unauthenticated: unknown user or wrong API key")
        return username

    def is_admin(self, token: str) -> bool:
        """Whether `token` is this emulator's control-API token (compared in constant time)."""
        return bool(token) and hmac.compare_digest(token.encode(), self.admin_token.encode())

    def user_for_token(self, token: str) -> str | None:
        """The user a Bearer access token belongs to (the emulator's tokens are the users' keys)."""
        return next((name for name, key in self.users.items() if key == token), None)
