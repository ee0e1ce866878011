"""`kk kernel-status REF --follow`: stream a kernel session's log as it grows, until the session ends.

Kaggle has no log stream: the log comes with the kernel's output listing (the whole log so far, every time), so
this polls the session status and the log, and hands on only the lines not seen yet. The output files themselves
are not downloaded while following (a pattern that matches no file name).

Example (needs a Kaggle client, so a plain code block):

    final = follow_kernel(client, "alice/digit-recognizer-kk-train", poll=30, on_lines=print)
    final.status        # KernelStatus.COMPLETE or ERROR
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

from kaggle_kit.errors import KKError

NO_FILES = "(?!)"  # a regex no file name matches: list the session's outputs for the log alone


def log_so_far(client, ref: str, version: int | None = None) -> list[str]:
    """The kernel session's log lines up to now."""
    from kaggle_kit.kernels.push import log_lines, parse_log

    with tempfile.TemporaryDirectory(prefix="kk-follow-") as tmp:
        files = client.kernel_output(ref, tmp, version=version, pattern=NO_FILES)
        logs = [f for f in files if f.suffix == ".log"]
        return log_lines(parse_log(logs[0].read_text())) if logs else []


def follow_kernel(client, ref: str, poll: float = 30.0, timeout: float | None = None,
                  on_lines: Callable[[list[str]], None] | None = None,
                  on_status: Callable[[str, float], None] | None = None,
                  sleep: Callable[[float], None] = time.sleep):
    """Poll kernel `ref` (OWNER/SLUG[/VERSION]) until its session ends, passing each new log line to `on_lines`
    and each status (with the seconds spent following) to `on_status`; returns the final `KernelSession`."""
    from kaggle_kit.kaggle.types import split_ref

    owner, slug, version = split_ref(ref, "kernel")
    plain = f"{owner}/{slug}"
    seen = 0
    started = time.monotonic()
    while True:
        session = client.kernel_status(plain, version)
        lines = log_so_far(client, plain, version)  # after the status: a finished session's log is whole
        if len(lines) > seen:
            if on_lines:
                on_lines(lines[seen:])
            seen = len(lines)
        elapsed = time.monotonic() - started
        if on_status:
            on_status(str(session.status), elapsed)
        if session.status.finished:
            return session
        if timeout is not None and elapsed > timeout:
            raise KKError(f"gave up following {ref} after {timeout:g} s: it is still {session.status}",
                          hint=f"It keeps running on Kaggle; follow it again: kk kernel-status {ref} --follow")
        sleep(poll)
