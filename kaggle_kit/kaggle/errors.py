"""What a failed call means to the user: HTTP statuses and lost connections turned into `KKError`s with a hint.

401 is a bad key, 403 a refusal (for a competition: the rules are not accepted), 404 an unknown competition,
dataset or kernel, 429 and 5xx what is left after the retries. Every message goes through the credentials'
`redact`, so a server that echoes the key does not make kk print it.

Example:
    >>> from kaggle_kit.kaggle.credentials import Credentials
    >>> error = http_error("404 Client Error", 404, Target("dataset", "me/nope"), where="Kaggle",
    ...                    credentials=Credentials("me", "test"), attempts=6)
    >>> error.message
    "unknown dataset 'me/nope': not found on Kaggle"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.credentials import Credentials
from kaggle_kit.kaggle.routing import URL_ENV

KAGGLE_WEB = "https://www.kaggle.com"


@dataclass(frozen=True)
class Target:
    """What a call acts on, for error messages."""

    kind: str  # "competition", "dataset", "kernel", "submission", "credentials"
    name: str


def connection_error(exc: BaseException, url: str | None, credentials: Credentials, attempts: int = 1,
                     outcome: str | None = None, lost: bool = False) -> KKError:
    """No answer (or a cut one): an emulator that is not running, no route to kaggle.com, a lost connection.

    `attempts` is how many requests were really made; `outcome` what is known of the server's side; `lost`: a
    connection was made and then lost (the server is there, the network is not reliable).
    """
    tried = f" after {attempts} attempt{'s' if attempts != 1 else ''}"
    tail = f"; {outcome}" if outcome else ""
    if lost:
        where = f"the Kaggle emulator at {url}" if url else "Kaggle"
        return KKError(f"the connection to {where} was lost ({type(exc).__name__}){tried}{tail}",
                       hint="The network (or a proxy) is dropping connections; try again later.")
    if url:
        return KKError(f"cannot reach the Kaggle emulator at {url} ({type(exc).__name__}){tried}{tail}",
                       hint=f"Is `kk emulator serve` running there? Unset {URL_ENV} to use kaggle.com.")
    return KKError(f"cannot reach Kaggle ({type(exc).__name__}){tried}{tail}: "
                   f"{credentials.redact(str(exc))[:300]}",
                   hint="Check your internet connection (and any proxy settings), then try again.")


def http_error(exc: BaseException | str, status: int, target: Target, *, where: str, credentials: Credentials,
               attempts: int) -> KKError:
    """The error for an HTTP `status` on `target` from `where` ("Kaggle" or the emulator), after `attempts` tries."""
    message = credentials.redact(str(exc)).strip()
    detail = f" ({message})" if message and not message.startswith(f"{status} ") else ""
    if status == 401:
        who = credentials.username or "your token"
        return KKError(f"{where} rejected the credentials for {who} (401 Unauthorized)",
                       hint=f"The key in {credentials.source} is wrong or expired: create a new token at "
                            f"{KAGGLE_WEB}/settings and replace it there.")
    if status == 403:
        if target.kind == "competition":
            return KKError(f"access to competition {target.name!r} was refused (403){detail}",
                           hint=f"Accept the competition rules at {KAGGLE_WEB}/competitions/{target.name}/rules "
                                "(signed in as the same user), then try again.")
        return KKError(f"access to {target.kind} {target.name!r} was refused (403){detail}",
                       hint=f"It may be private to another user; check that {target.kind} belongs to, or is "
                            f"shared with, {credentials.username or 'you'}.")
    if status == 404:
        return KKError(f"unknown {target.kind} {target.name!r}: not found on {where}{detail}",
                       hint=f"Check the spelling; {target.kind} slugs look like "
                            + ("digit-recognizer." if target.kind == "competition" else "owner/slug."))
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if status == 429:
        return KKError(f"{where} is rate-limiting requests (429) after {tries}{detail}",
                       hint="Wait a minute and try again.")
    if status in (500, 502, 503, 504):
        return KKError(f"{where} had a server error ({status}) after {tries} on "
                       f"{target.kind} {target.name!r}{detail}", hint="This is on Kaggle's side; try again later.")
    return KKError(f"{where} refused the request on {target.kind} {target.name!r} ({status}){detail}")


_SESSION_LIMIT = re.compile(r"Maximum batch (\w+) session count of (\d+) reached", re.IGNORECASE)


class SessionLimitError(KKError):
    """A push refused because the account already holds the most sessions of that accelerator it may hold.

    Example:
        >>> error = session_limit_error("kernel push alice/x failed", "Maximum batch GPU session count of 2 reached.")
        >>> error.accelerator, error.limit
        ('gpu', 2)
    """

    def __init__(self, message: str, accelerator: str, limit: int):
        super().__init__(message, hint=f"Kaggle runs at most {limit} {accelerator.upper()} session(s) at once per "
                                       "account: wait for one to end (kk kernel-status REF --follow), or push with "
                                       "--wait and kk pushes the rest as sessions end.")
        self.accelerator = accelerator
        self.limit = limit


def session_limit_error(message: str, server_text: str) -> SessionLimitError | None:
    """The `SessionLimitError` for Kaggle's "Maximum batch GPU session count of 2 reached.", else None."""
    found = _SESSION_LIMIT.search(server_text)
    if found is None:
        return None
    return SessionLimitError(f"{message}: {server_text.strip()}", found.group(1).lower(), int(found.group(2)))
