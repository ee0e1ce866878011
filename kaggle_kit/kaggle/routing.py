"""Where the official client sends its calls: kaggle.com, or a local emulator named by `KK_KAGGLE_URL`.

The unmodified client knows only kaggle.com and `http://localhost` (port 80), so an emulator on another port is
reached as the HTTP proxy for `http://localhost` (`KAGGLE_API_ENVIRONMENT=LOCALHOST`); `localhost` must then not
be in NO_PROXY. `routing_env` builds that environment for a subprocess, `routed` applies it to this process for
one call.

Example:
    >>> emulator_url({"KK_KAGGLE_URL": "http://127.0.0.1:8765/"})
    'http://127.0.0.1:8765'
    >>> env = routing_env("http://127.0.0.1:8765", {"NO_PROXY": "localhost,example.org"})
    >>> env["KAGGLE_API_ENVIRONMENT"], env["HTTP_PROXY"], env["NO_PROXY"]
    ('LOCALHOST', 'http://127.0.0.1:8765', 'example.org')
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping

from kaggle_kit.errors import KKError

URL_ENV = "KK_KAGGLE_URL"
_ROUTING_VARS = ("KAGGLE_API_ENVIRONMENT", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


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

    With `url=None` the environment is returned as is.
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
def routed(url: str | None) -> Iterator[None]:
    """Apply `routing_env(url)` to this process for the duration of one call, then restore it."""
    if url is None:
        yield
        return
    wanted = routing_env(url)
    saved = {n: os.environ.get(n) for n in _ROUTING_VARS}
    for n in _ROUTING_VARS:
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
