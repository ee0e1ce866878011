"""One writer per folder: an advisory lock that two `kk` processes cannot both hold.

Two `kk train` on one run folder would both train every fold (the last writer wins); two `kk download` into one
folder would delete each other's staging files. Each takes `folder_lock(folder, "train")` first: the second gets
a clear error naming the process that holds it and since when, instead of a silent race.

The lock is `fcntl.flock` on `<folder>/.kk-lock`, so it is released by the kernel when the holder exits, even
after `kill -9`: a stale lock file never blocks anyone. The file's text (pid, command, start time) is only there
to write the message.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with folder_lock(folder, "train"):
    ...     with folder_lock(folder, "train"):
    ...         pass
    Traceback (most recent call last):
    ...
    kaggle_kit.errors.LockedError: ...: in use by another kk train (pid ..., since ...)
    Wait for it to finish, or stop it; the lock goes with the process that holds it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from kaggle_kit.errors import LockedError

LOCK_FILE = ".kk-lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, command: str, beside: bool = False) -> Iterator[Path]:
    """Hold `folder`'s lock for the duration of the block; `LockedError` at once if another process holds it.

    `command` names the work in the message the other process gets ("train", "download"). The folder is
    created if needed. `beside=True` keeps the lock file next to the folder (`.<name>.kk-lock`) instead of in
    it, for folders whose listing is the user's (a competition's data). The lock is per process and not
    re-entrant: a block that already holds it must not take it again.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder.parent / f".{folder.name}{LOCK_FILE}" if beside else folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _locked(folder, path) from None
        holder = {"pid": os.getpid(), "command": command,
                  "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield folder
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _locked(folder: Path, path: Path) -> LockedError:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    who = f"kk {holder.get('command', '?')} (pid {holder.get('pid', '?')}, since {holder.get('since', '?')})"
    return LockedError(f"{folder}: in use by another {who}",
                       hint="Wait for it to finish, or stop it; the lock goes with the process that holds it.")
