"""Rich progress displays for the commands: the library reports progress through plain callbacks, these draw it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


@contextmanager
def transfer_bar(console: Console, description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A download/upload bar (bytes, rate, ETA); yields the `progress(done, total)` callback the library calls.

    The bar appears with the first byte, so a call that transfers nothing (already up to date) draws nothing.
    """
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=console, transient=False)
    task = bar.add_task(description, total=None)
    started = False

    def update(done: int, total: int | None) -> None:
        nonlocal started
        if not started:
            bar.start()
            started = True
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if started:
            bar.stop()


@contextmanager
def elapsed_spinner(console: Console, description: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner with the time spent so far, for waits with no measurable progress (a submission being scored);
    yields a callback that replaces the text beside it. Quiet: draws nothing."""
    if quiet:
        yield lambda _text: None
        return
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                   transient=True)
    task = bar.add_task(description, total=None)
    with bar:
        yield lambda text: bar.update(task, description=text)
