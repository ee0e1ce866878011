"""Fan-out within Kaggle's session limits: push rendered kernels no faster than the account may run them.

Kaggle lets one account hold only a few batch sessions of each accelerator at once (2 GPU: a third push is
refused with "Maximum batch GPU session count of 2 reached."). `run_within_limit` keeps at most `limit` of the
kernels it pushed in flight, pushes the next one each time one ends, and, when Kaggle still refuses (sessions
the user started elsewhere count too), tries again at the next poll. A push that fails for any other reason is
recorded and the rest go on: every kernel that was pushed is followed to its end, so none runs unattended.

    launches = run_within_limit(client, kernels, limit=2, poll=30)
    [(l.ref, l.version, l.final.status if l.final else l.error) for l in launches]

Example (a fake client that is always COMPLETE, to show the order of pushes; real callers pass a KaggleClient):

    >>> from types import SimpleNamespace as NS
    >>> class Client:
    ...     def kernel_push(self, folder, timeout=None):
    ...         return NS(ref=f"me/{folder.name}", version=1, url=None)
    ...     def kernel_status(self, ref, version):
    ...         return NS(status="COMPLETE", failure_message=None)
    >>> from pathlib import Path
    >>> kernels = [NS(ref=f"me/k{i}", build_dir=Path(f"k{i}")) for i in range(3)]
    >>> [l.ref for l in run_within_limit(Client(), kernels, limit=2, poll=0, sleep=lambda s: None)]
    ['me/k0', 'me/k1', 'me/k2']
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.errors import SessionLimitError


@dataclass
class Launch:
    """One rendered kernel's way through the fan-out: pushed (`version`), refused (`error`), or ended (`final`)."""

    kernel: Any  # a RenderedKernel (ref, build_dir)
    pushed: Any = None  # push.Pushed once Kaggle took it
    error: str | None = None  # why it was never pushed
    final: Any = None  # its final KernelSession once the session ended

    @property
    def ref(self) -> str:
        return self.pushed.ref if self.pushed is not None else self.kernel.ref

    @property
    def version(self) -> int | None:
        return self.pushed.version if self.pushed is not None else None

    @property
    def in_flight(self) -> bool:
        return self.pushed is not None and self.final is None


def run_within_limit(client, kernels: list, limit: int, poll: float, timeout: float | None = None,
                     session_timeout: int | None = None,
                     on_pushed: Callable[[Launch], None] | None = None,
                     on_status: Callable[[dict[str, str]], None] | None = None,
                     on_note: Callable[[str], None] | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> list[Launch]:
    """Push `kernels` keeping at most `limit` sessions in flight, and follow each one pushed until it ends.

    Returns one `Launch` per kernel, in order. Raises `KKError` after `timeout` seconds, naming the kernels
    still running and those never pushed (the running ones keep running on Kaggle).
    """
    from kaggle_kit.kernels.push import finished, push_kernel

    if limit < 1:
        raise KKError(f"session limit {limit}: must be at least 1")
    launches = [Launch(k) for k in kernels]
    waiting = deque(launches)
    started = time.monotonic()
    refused_note = False
    while True:
        in_flight = sum(1 for launch in launches if launch.in_flight)
        while waiting and in_flight < limit:
            launch = waiting[0]
            try:
                launch.pushed = push_kernel(client, launch.kernel, timeout=session_timeout)
            except SessionLimitError as exc:
                # Sessions started outside this command count against the same limit: try again at the next poll.
                if on_note and not refused_note:
                    on_note(f"{exc.message}; {len(waiting)} kernel(s) wait for a session to end")
                    refused_note = True
                break
            except KKError as exc:
                launch.error = exc.message
            waiting.popleft()
            if launch.pushed is not None:
                in_flight += 1
                if on_pushed:
                    on_pushed(launch)
        states = {}
        for launch in launches:
            if launch.in_flight:
                status = client.kernel_status(launch.ref, launch.version)
                if finished(status.status):
                    launch.final = status
                states[launch.ref] = str(status.status)
            elif launch.final is not None:
                states[launch.ref] = str(launch.final.status)
        if on_status and states:
            on_status(states)
        if not waiting and not any(launch.in_flight for launch in launches):
            return launches
        if timeout is not None and time.monotonic() - started > timeout:
            running = [launch.ref for launch in launches if launch.in_flight]
            unpushed = [launch.kernel.ref for launch in waiting]
            raise KKError(f"gave up waiting after {timeout:g} s: "
                          + "; ".join(part for part in (
                              f"{', '.join(running)} still running" if running else "",
                              f"{', '.join(unpushed)} never pushed" if unpushed else "") if part),
                          hint="What runs keeps running on Kaggle; check it with kk kernel-status REF, and push "
                               "the rest again later.")
        sleep(poll)
