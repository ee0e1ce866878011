"""Who kk talks to Kaggle as: the credentials the official client would use, found without importing it.

The official client prints a help text and exits at import time when it finds no credentials; kk looks first,
in the client's own order, and says where to put them. The secret never appears in a repr or a message:
`Credentials.redact` is applied to everything kk shows that came from the server or the client.

Example:
    >>> creds = find_credentials({"KAGGLE_USERNAME": "me", "KAGGLE_KEY": "0123456789abcdef", "HOME": "/nonexistent"})
    >>> creds
    Credentials(username='me', source='KAGGLE_USERNAME/KAGGLE_KEY', config_dir=PosixPath('/nonexistent/.config/kaggle'))
    >>> creds.redact("the server echoed 0123456789abcdef")
    'the server echoed ***'
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaggle_kit.errors import KKError

NO_CREDENTIALS_HINT = (
    "Create an API token at https://www.kaggle.com/settings (section API, 'Create New Token') and either\n"
    "  - save the downloaded kaggle.json as ~/.kaggle/kaggle.json and run `chmod 600 ~/.kaggle/kaggle.json`,\n"
    "  - or put it in another folder and set KAGGLE_CONFIG_DIR to that folder,\n"
    "  - or export KAGGLE_USERNAME=<your username> and KAGGLE_KEY=<your key>.\n"
    "No account needed to try kk: `make demo` runs the whole loop against the bundled Kaggle emulator."
)


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
                          hint='It should read {"username": "...", "key": "..."}.\n' + NO_CREDENTIALS_HINT) from None
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
                      f"and {json_path})", hint=NO_CREDENTIALS_HINT)

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
                  "KAGGLE_API_TOKEN)", hint=NO_CREDENTIALS_HINT)
