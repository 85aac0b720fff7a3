"""Progress of a long ``revoke`` on stderr: counts and rates only, never a token or hash.

On a terminal a rich progress bar; otherwise (a pipe, a CI log) one plain line at most
every ``interval`` seconds and a last line at the end. When the input is a regular file
its size is known: both show the percentage read and an ETA.
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
    def update(self, done: int, failed: int, fraction: float | None = None) -> None:
        """Tokens handled so far (revoked + failed), failures so far, and the part of
        the input read (None when its size is unknown)."""

    def close(self) -> None:
        """Draw the final state and release the terminal."""


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        done = int(task.fields["done"])
        text = "-- tokens/s" if elapsed <= 0 else f"{done / elapsed:,.0f} tokens/s"
        return Text(text, style="cyan")


class _ShareColumn(ProgressColumn):
    """Percentage and ETA, when the input's size is known."""

    def render(self, task: Task) -> Text:
        if task.total is None or not task.completed:
            return Text("")
        share = task.completed / task.total
        elapsed = task.elapsed or 0.0
        eta = elapsed * (1 - share) / share if share > 0 else 0.0
        return Text(f"{share:.0%} ETA {_clock(eta)}", style="magenta")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_SCALE = 10_000


class RichProgress:
    def __init__(self, stream: IO[str], *, force_terminal: bool) -> None:
        console = Console(file=stream, force_terminal=force_terminal or None)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("revoking"),
            BarColumn(),
            TextColumn("{task.fields[done]:,} tokens"),
            TextColumn("[red]{task.fields[failed]:,} failed"),
            _RateColumn(),
            _ShareColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("revoke", total=None, done=0, failed=0)
        self._progress.start()

    def update(self, done: int, failed: int, fraction: float | None = None) -> None:
        if fraction is None:
            self._progress.update(self._task, done=done, failed=failed)
        else:
            completed = fraction * _SCALE
            self._progress.update(
                self._task, total=_SCALE, completed=completed, done=done, failed=failed
            )

    def close(self) -> None:
        self._progress.update(self._task, total=_SCALE, completed=_SCALE)
        self._progress.stop()


class PlainProgress:
    def __init__(self, stream: IO[str], interval: float = 2.0) -> None:
        self._stream = stream
        self._interval = interval
        self._started = time.monotonic()
        self._last = self._started
        self._done = 0
        self._failed = 0
        self._fraction: float | None = None

    def _line(self, label: str) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        share = ""
        if self._fraction and label != "done":
            eta = elapsed * (1 - self._fraction) / self._fraction
            share = f", {self._fraction:.0%} of the input, ETA {_clock(eta)}"
        self._stream.write(
            f"{label}: {self._done:,} tokens, {self._failed:,} failed, "
            f"{self._done / elapsed:,.0f} tokens/s{share}\n"
        )
        self._stream.flush()

    def update(self, done: int, failed: int, fraction: float | None = None) -> None:
        self._done, self._failed, self._fraction = done, failed, fraction
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._line("progress")

    def close(self) -> None:
        self._line("done")


class NoProgress:
    def update(self, done: int, failed: int, fraction: float | None = None) -> None:
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
