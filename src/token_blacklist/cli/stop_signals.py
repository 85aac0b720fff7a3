"""Ctrl-C and SIGTERM for a bulk command: stop between batches, never with one on the wire."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["StopSignals"]


class StopSignals:
    """SIGINT and SIGTERM stop the run, but never in the middle of a batch on the wire.

    While a batch is sent (:meth:`deferred`), the first signal is only noted: the batch
    is finished and recorded, then the run stops; a second one stops at once. Elsewhere
    (reading the input, which may block on a pipe) a signal stops at once. Once the run
    is over (:meth:`finished`), the first signal no longer stops the summary.
    """

    def __init__(self) -> None:
        self._sending = False
        self._finished = False
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if (self._sending or self._finished) and not self.requested:
            self.requested = True
            return
        raise KeyboardInterrupt

    def __enter__(self) -> StopSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def finished(self) -> None:
        """The run is over (every batch recorded): from now on the first signal is only
        noted, so the summary is still written in full; a second one stops at once."""
        self._finished = True

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._sending = True
        try:
            yield
        finally:
            self._sending = False
        if self.requested:
            raise KeyboardInterrupt
