"""Rich progress displays for the commands: the library reports progress through plain callbacks, these draw it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


@contextmanager
def transfer_bar(console: Console, description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A download/upload bar (bytes, rate, ETA); yields the `progress(done, total)` callback the library calls.

    The bar appears with the first byte, so a call that transfers nothing (already up to date) draws nothing.
    """
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=console, transient=False)
    with _shown_on_first_update(bar, description) as update:
        yield update


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


class EtaColumn(TimeRemainingColumn):
    """`eta 0:01:23`: the time left at the current rate (labelled: a bare clock reads as elapsed time)."""

    def render(self, task) -> Text:
        if task.finished:
            return Text(f"done {_clock(task.finished_time or task.elapsed)}", style="progress.elapsed")
        left = super().render(task)
        return Text(f"eta {left.plain}", style="progress.remaining")


class RateColumn(ProgressColumn):
    """Items per second (images when the task carries `per_step`, the images a step covers)."""

    def __init__(self, unit: str = "img/s"):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("")
        rate = speed * float(task.fields.get("per_step", 1))
        return Text(f"{rate:,.0f} {self.unit}" if rate >= 10 else f"{rate:.1f} {self.unit}", style="progress.data.speed")


def _clock(seconds: float | None) -> str:
    s = int(seconds or 0)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def training_progress(console: Console) -> Progress:
    """The bars of `kk train` (all folds, a fold, an epoch): percent, ETA, images/s, and the latest val accuracy."""
    return Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), TaskProgressColumn(), EtaColumn(),
                    RateColumn(), TextColumn("{task.fields[stats]}"), console=console, transient=False)


@contextmanager
def step_bar(console: Console, description: str, unit: str = "steps/s",
             quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A bar for a known number of steps with ETA and rate (lr-find's sweep, predict's passes); yields the
    `on_step(done, total)` callback the library calls. It appears with the first call; quiet draws nothing."""
    if quiet:
        yield lambda _done, _total: None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(), EtaColumn(),
                   RateColumn(unit), TimeElapsedColumn(), console=console, transient=False)
    with _shown_on_first_update(bar, description) as update:
        yield update


@contextmanager
def _shown_on_first_update(bar: Progress, description: str) -> Iterator[Callable[[int, int | None], None]]:
    """`bar` with one task, drawn from its first update on: a call with nothing to report draws nothing."""
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
