"""What every emulator service shares: the error type, users, fault injection, and JSON state persistence.

Nothing here knows about HTTP. A service backend raises `EmulatorError(code, message)`; the HTTP layer turns
it into Kaggle's error shape (`{"code": N, "message": ...}` with status N). A service sees the emulator through
`EmulatorRoot` (folders, clock, lock, its sibling services), so this module depends on no service and no
service depends on the root's module (`models.py`).

Example:
    >>> faults = Faults()
    >>> _ = faults.add("ListDataFiles", status=503, times=1)
    >>> faults.take("competitions.CompetitionApiService/ListDataFiles").status
    503
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from kaggle_kit.io import atomic_write_json


class EmulatorError(Exception):
    """A failed call as Kaggle reports it: an HTTP status and a human message.

    Example:
        >>> EmulatorError(404, "Competition 'nope' not found").code
        404
    """

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(message: str) -> EmulatorError:
    return EmulatorError(404, message)


def bad_request(message: str) -> EmulatorError:
    return EmulatorError(400, message)


# Names become folders under --state (`kernels/<owner>/<slug>/`), so anything but these characters is refused
# before it reaches a path: no `..`, no separators, no NUL. Kaggle's own names are narrower still.
USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,49}$")


def check_user_name(name: str) -> str:
    """`name` if it is a valid account name (letters, digits, `-`, `_`; at most 50), else 400.

    Example:
        >>> check_user_name("local")
        'local'
        >>> check_user_name("../etc")
        Traceback (most recent call last):
        ...
        kaggle_kit.emulator.core.EmulatorError: Invalid user name '../etc': use letters, digits, '-' and '_'
    """
    if not isinstance(name, str) or not USER_RE.match(name):
        raise bad_request(f"Invalid user name {name!r}: use letters, digits, '-' and '_'")
    return name


def check_slug(kind: str, slug: str, min_len: int = 3) -> str:
    """`slug` if it is a valid `kind` slug (competition, dataset, kernel: letters, digits, `-`, `_`), else 400."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or len(slug) < min_len:
        raise bad_request(f"Invalid {kind} slug {slug!r}: use {min_len}-50 letters, digits, '-' and '_'")
    return slug


def check_file_name(name: str) -> str:
    """`name` if it is a plain file name (no folders, not `.`/`..`, no control characters), else 400."""
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
            or any(ord(c) < 32 for c in name) or len(name) > 255):
        raise bad_request(f"Invalid file name {name!r}: it must be a plain file name without folders")
    return name


def parse_user(spec: str) -> tuple[str, str]:
    """`"name:key"` -> `("name", "key")`; the key may itself contain colons.

    Example:
        >>> parse_user("local:local")
        ('local', 'local')
    """
    name, sep, key = spec.partition(":")
    if not sep or not name or not key:
        raise ValueError(f"user {spec!r} must look like NAME:KEY (e.g. local:local)")
    if not USER_RE.match(name):
        raise ValueError(f"user name {name!r}: use letters, digits, '-' and '_' (at most 50)")
    return name, key


USERS_ENV = "KK_EMULATOR_USERS"


def parse_users_text(text: str, source: str = "users") -> dict[str, str]:
    """Users from a users file's text: a JSON object `{"name": "key"}`, or `name:key` lines (`#` comments).

    Example:
        >>> parse_users_text('{"alice": "s3cret"}'), parse_users_text("# team\\nbob:k1\\ncarol:k2")
        ({'alice': 's3cret'}, {'bob': 'k1', 'carol': 'k2'})
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise ValueError(f"{source}: not valid JSON ({exc})") from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise ValueError(f'{source}: want {{"name": "key", ...}} with string keys')
        return dict(parse_user(f"{k}:{v}") for k, v in data.items())
    users = {}
    for line in stripped.replace(",", "\n").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                name, key = parse_user(line)
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from None
            users[name] = key
    return users


def load_users(users_file: str | Path | None = None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The emulator's users from `users_file` and/or `$KK_EMULATOR_USERS` (`name:key,name:key`).

    Never from the command line: argv is readable by every process on the machine (`/proc/PID/cmdline`),
    kernels the emulator runs included.
    """
    users: dict[str, str] = {}
    if users_file is not None:
        path = Path(users_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"--users-file {path}: {exc.strerror or exc}") from None
        users.update(parse_users_text(text, str(path)))
    env = os.environ if environ is None else environ
    if env.get(USERS_ENV, "").strip():
        users.update(parse_users_text(env[USERS_ENV], f"${USERS_ENV}"))
    return users


def utc_day(ts: float) -> str:
    """The UTC calendar day of an epoch timestamp: Kaggle's daily submission limit resets at 00:00 UTC.

    Example:
        >>> utc_day(86399.0), utc_day(86400.0)
        ('1970-01-01', '1970-01-02')
    """
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


def parse_datetime(value: str | int | float | None) -> float | None:
    """An ISO date/datetime (`2030-01-01`, `2030-01-01T00:00:00Z`) or epoch number -> epoch seconds (UTC).

    Example:
        >>> parse_datetime("1970-01-02"), parse_datetime("1970-01-01T00:01:00Z")
        (86400.0, 60.0)
    """
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


# -- fault injection -------------------------------------------------------------------------------------------------

# Names that are not RPCs but HTTP operations the client performs on URLs the emulator handed out.
UPLOAD = "upload"  # a data PUT to an upload URL (probes are never failed, they are how the client recovers)
DOWNLOAD = "download"  # a GET of a blob URL


@dataclass
class Fault:
    """Fail the next `times` calls of `method` with HTTP `status`.

    `method` is an RPC name (`ListDataFiles`, or fully qualified `competitions.CompetitionApiService/ListDataFiles`),
    `"upload"` or `"download"`. For uploads, `keep_bytes` stores that many leading bytes before failing, like a
    connection dropped mid-transfer (the client's resumable probe then gets `308` with a `Range`).
    `retry_after` adds a `Retry-After` header (for 429s).
    `rate` (fault-injection suites) makes the fault random: each matching call fails with that probability,
    up to `times` failures; calls it spares go on to the next fault in the queue.
    """

    method: str
    status: int = 503
    times: int = 1
    message: str | None = None
    keep_bytes: int | None = None
    retry_after: float | None = None
    rate: float | None = None

    def matches(self, name: str) -> bool:
        return self.method == name or name.endswith("/" + self.method) or self.method == "*"

    def error(self, name: str) -> EmulatorError:
        headers = {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else None
        return EmulatorError(self.status, self.message or f"Injected fault: {name} failed with {self.status}", headers)


class Faults:
    """A queue of injected faults, consumed in order (test-only; never persisted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random = random.Random(0)

    def add(self, method: str, status: int = 503, times: int = 1, message: str | None = None,
            keep_bytes: int | None = None, retry_after: float | None = None, rate: float | None = None,
            seed: int | None = None) -> Fault:
        if times < 1:
            raise ValueError("times must be >= 1")
        if rate is not None and not 0.0 < rate <= 1.0:
            raise ValueError("rate must be in (0, 1]")
        fault = Fault(method, status, times, message, keep_bytes, retry_after, rate)
        with self._lock:
            if seed is not None:  # a reproducible sequence of random faults
                self._random.seed(seed)
            self._faults.append(fault)
        return fault

    def take(self, name: str) -> Fault | None:
        """The fault to apply to this call of `name`, if any (its remaining count goes down by one)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(name):
                    if fault.rate is not None and self._random.random() >= fault.rate:
                        continue
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]


# -- service backends ------------------------------------------------------------------------------------------------

S = TypeVar("S", bound="ServiceBackend")


class EmulatorRoot(Protocol):
    """What a service backend sees of the emulator (`models.EmulatorBackend` is the one implementation).

    `store_dir` is the read-only competition store (None: no competitions), `state_dir` the mutable state folder,
    `clock()` the time in epoch seconds, `lock` the one lock every mutation holds, `scoring_delay` how long a new
    submission reads as PENDING. A service reaches another one by class: `root.service(BlobStore)`.
    """

    store_dir: Path | None
    state_dir: Path
    clock: Callable[[], float]
    lock: threading.RLock
    scoring_delay: float

    def service(self, cls: type[S]) -> S: ...


class ServiceBackend:
    """Base of a service's state and behaviour (blobs, competitions, datasets, kernels).

    A service keeps its mutable state as plain data, saved as `<state>/<name>.json` by `save()` (atomically) and
    given back to `load_state()` when the emulator restarts on the same `--state` folder. Files it owns live
    under `self.folder` (`<state>/<name>/`). `root` is the `EmulatorRoot`: the clock, lock, folders and the other
    services. Subclasses set `name`, build their empty state in `__init__` (after calling
    `super().__init__(root)`); the root then calls `restore()`.
    """

    name: ClassVar[str] = ""

    def __init__(self, root: EmulatorRoot) -> None:
        self.root = root
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def folder(self) -> Path:
        return self.root.state_dir / self.name

    @property
    def state_file(self) -> Path:
        return self.root.state_dir / f"{self.name}.json"

    def now(self) -> float:
        return self.root.clock()

    def to_state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass

    def restore(self) -> None:
        if self.state_file.exists():
            self.load_state(json.loads(self.state_file.read_text()))

    def save(self) -> None:
        """Persist the current state (call with the root lock held, after every mutation)."""
        atomic_write_json(self.state_file, self.to_state())

    def close(self) -> None:
        """Stop what the service runs in the background (the emulator is shutting down); most run nothing."""
