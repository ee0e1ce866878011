"""The RPC layer's building blocks: how a handler is declared, what it receives, and wire-format helpers.

An RPC handler is a plain function `handler(ctx: RpcContext, body: dict) -> dict | Redirect`, registered on a
service's `RpcRouter` under its method name. It translates the client's camelCase JSON into typed backend calls
(backends never see a wire dict) and the backend's records into Kaggle's response JSON (enum values as names, datetimes as ISO strings ending in `Z`, no
`null` for lists or enums). It never touches HTTP: `responses.py` does authentication, fault injection, errors
(`EmulatorError` -> `{"code", "message"}`), redirects and JSON encoding.

Example:
    >>> router = RpcRouter("competitions.CompetitionApiService")
    >>> @router.rpc("GetSubmissionLimits")
    ... def limits(ctx, body):
    ...     return ctx.backend.competitions.limits(ctx.require_user(), body.get("competitionName", ""))
    >>> sorted(router.handlers)
    ['competitions.CompetitionApiService/GetSubmissionLimits']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

from kaggle_kit.emulator.core import EmulatorError
from kaggle_kit.emulator.models import EmulatorBackend

T = TypeVar("T")
Auth = Literal["required", "optional", "none"]


@dataclass(frozen=True)
class Redirect:
    """Answer the RPC with `302 Location: <absolute URL>`; `path` is relative to the server (a blob URL)."""

    path: str


@dataclass
class RpcContext:
    """What a handler gets besides the request body."""

    backend: EmulatorBackend
    user: str | None  # None: an anonymous call (only for handlers declared with auth="optional" or "none")
    base_url: str  # how the client reached us, e.g. http://localhost in proxy mode; blob/upload URLs use it
    rpc: str = ""

    def require_user(self) -> str:
        if self.user is None:
            raise EmulatorError(401, "Authentication required: send your Kaggle username and key")
        return self.user

    def absolute(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


Handler = Callable[[RpcContext, dict], Any]


@dataclass(frozen=True)
class Rpc:
    name: str  # "<pkg>.<Service>/<Method>", the path after /api/v1/
    handler: Handler
    auth: Auth = "required"  # "optional": anonymous allowed (bad credentials still 401); "none": header ignored


@dataclass
class RpcRouter:
    """The handlers of one service, e.g. `RpcRouter("datasets.DatasetApiService")`."""

    service: str
    handlers: dict[str, Rpc] = field(default_factory=dict)

    def rpc(self, method: str, auth: Auth = "required") -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            name = f"{self.service}/{method}"
            self.handlers[name] = Rpc(name, fn, auth)
            return fn

        return deco


# -- wire format -----------------------------------------------------------------------------------------------------


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> `2024-01-02T03:04:05.123Z` (what the client's `fromisoformat` parses)."""
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def compact(obj: Any) -> Any:
    """Drop `None` values from dicts, recursively: the client chokes on `null` lists and enums."""
    if isinstance(obj, dict):
        return {k: compact(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [compact(v) for v in obj]
    return obj


def paginate(items: Sequence[T], body: dict, default_size: int = 20) -> tuple[list[T], str]:
    """One page of `items` and the next page token ("" at the end), from `pageToken`/`page`/`pageSize`."""
    size = int(body.get("pageSize") or default_size)
    token = body.get("pageToken") or ""
    if token:
        try:
            start = int(token)
        except ValueError:
            raise EmulatorError(400, f"Invalid pageToken {token!r}") from None
    else:
        start = (max(int(body.get("page") or 1), 1) - 1) * size
    page = list(items[start:start + size])
    return page, (str(start + size) if start + size < len(items) else "")


def get_str(body: dict, key: str, required: bool = True) -> str:
    value = body.get(key) or ""
    if required and not value:
        raise EmulatorError(400, f"Missing required field {key!r}")
    return str(value)
