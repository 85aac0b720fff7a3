"""Progress of a long ``revoke`` on stderr: counts and rates only, never a token or hash.

On a terminal a rich progress bar; otherwise (a pipe, a CI log) one plain line at most
every ``interval`` seconds and a last line at the end.
"""

from __future__ import annotations

import time
from typing import IO, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

__all__ = ["PROGRESS_MODES", "ProgressReporter", "make_progress"]

PROGRESS_MODES = ("auto", "rich", "plain", "none")


class ProgressReporter(Protocol):
    def update(self, done: int, failed: int) -> None:
        """Tokens handled so far (revoked + failed) and failures so far."""

    def close(self) -> None:
        """Draw the final state and release the terminal."""


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- tokens/s" if speed is None else f"{speed:,.0f} tokens/s", style="cyan")


class RichProgress:
    def __init__(self, stream: IO[str], *, force_terminal: bool) -> None:
        console = Console(file=stream, force_terminal=force_terminal or None)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("revoking"),
            BarColumn(),
            TextColumn("{task.completed:,} tokens"),
            TextColumn("[red]{task.fields[failed]:,} failed"),
            _RateColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("revoke", total=None, failed=0)
        self._progress.start()

    def update(self, done: int, failed: int) -> None:
        self._progress.update(self._task, completed=done, failed=failed)

    def close(self) -> None:
        self._progress.update(self._task, total=self._progress.tasks[0].completed)
        self._progress.stop()


class PlainProgress:
    def __init__(self, stream: IO[str], interval: float = 2.0) -> None:
        self._stream = stream
        self._interval = interval
        self._started = time.monotonic()
        self._last = self._started
        self._done = 0
        self._failed = 0

    def _line(self, label: str) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self._stream.write(
            f"{label}: {self._done:,} tokens, {self._failed:,} failed, "
            f"{self._done / elapsed:,.0f} tokens/s\n"
        )
        self._stream.flush()

    def update(self, done: int, failed: int) -> None:
        self._done, self._failed = done, failed
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._line("progress")

    def close(self) -> None:
        self._line("done")


class NoProgress:
    def update(self, done: int, failed: int) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(mode: str, stream: IO[str]) -> ProgressReporter:
    """``auto`` picks rich on a terminal and plain lines otherwise."""
    if mode == "auto":
        mode = "rich" if stream.isatty() else "plain"
    if mode == "rich":
        return RichProgress(stream, force_terminal=True)
    if mode == "plain":
        return PlainProgress(stream)
    return NoProgress()
