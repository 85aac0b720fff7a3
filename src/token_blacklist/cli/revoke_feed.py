"""The input of ``revoke`` as the library's stream sees it, with the bookkeeping the command
needs around it: which lines each batch came from, where the input stopped, how far
through a file it is.

The batching, the validation of each batch and the "Redis is plainly down, send no more"
decision are the library's :class:`~token_blacklist.stream.StreamTally`, the object
``blacklist_stream`` uses; the command only hands it hashes, one at a time, through
:class:`Feed`. The tally reads a batch, then yields its plan: so when a plan arrives,
the entries the feed handed out since the last plan are exactly that batch's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from .._core.stream import StreamTally
from .token_lines import Entry, InputError

__all__ = ["CountingReader", "Feed"]


class CountingReader:
    """Lines of a binary stream, counting the bytes read (for a percentage and an ETA)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.read = 0
        self.size: int | None = None
        try:
            info = os.fstat(stream.fileno())
        except (OSError, ValueError, AttributeError):
            return  # no file descriptor at all
        if stat.S_ISREG(info.st_mode) and info.st_size:
            self.size = info.st_size  # not for a pipe or a terminal

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            self.read += len(line)
            yield line

    @property
    def fraction(self) -> float | None:
        """How much of a regular file was read, or None when the size is unknown."""
        if not self.size:
            return None
        return min(self.read / self.size, 1.0)


class Feed:
    """Hashes for :meth:`StreamTally.plans_to_send`, and what became of their lines.

    ``ttls`` is the TTL mapping given to the tally: each hash's own TTL (or ``--ttl``),
    the longer one for a hash repeated in a batch; it holds one batch at a time.
    Once the tally knows Redis is down, the entries read are not sent: they go to
    ``on_unsent`` (in windows of ``batch_size``, so duplicates are counted as the tally
    does), and the tally itself reports them failed.
    """

    def __init__(
        self,
        entries: Iterable[Entry],
        tally: StreamTally,
        default_ttl: int | None,
        batch_size: int,
        on_unsent: Callable[[list[Entry]], None],
    ) -> None:
        self._entries = entries
        self._tally = tally
        self._default_ttl = default_ttl
        self._batch_size = batch_size
        self._on_unsent = on_unsent
        self.ttls: dict[str, int] = {}
        self.pending: list[Entry] = []
        """Read and handed to the tally, in no plan yet (or in the plan being sent)."""
        self._unsent: list[Entry] = []
        self.last_line = 0
        """The number of the last usable line read (0: none yet)."""
        self.input_error: InputError | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            for entry in self._entries:
                # Recorded first, then counted as read: a stop signal can land between any
                # two steps, and a line counted as read but in no list would be skipped by
                # --resume-from without being sent or listed (seen: 1 run in 4 under CI).
                if self._tally.down is not None:
                    self._unsent_entry(entry)
                else:
                    self._pending_entry(entry)
                self.last_line = entry.line
                yield entry.token_hash
        except InputError as error:
            # Stop the stream here: the tally sends the lines read before this one.
            self.input_error = error

    def _note_ttl(self, entry: Entry) -> None:
        ttl = entry.ttl if entry.ttl is not None else self._default_ttl
        assert ttl is not None  # read_entries refuses a line without TTL when no default
        ttls = self.ttls
        known = ttls.get(entry.token_hash)
        if known is None or ttl > known:
            ttls[entry.token_hash] = ttl

    def _pending_entry(self, entry: Entry) -> None:
        self._note_ttl(entry)
        self.pending.append(entry)

    def _unsent_entry(self, entry: Entry) -> None:
        if len(self._unsent) >= self._batch_size:
            # The tally has read that whole window, validated it and counted it failed:
            # its TTLs (which the validation looked up) can go.
            self.flush_unsent()
            self.ttls.clear()
        self._note_ttl(entry)
        self._unsent.append(entry)  # straight there: never in neither list

    def last_read(self) -> int:
        """The line of the last entry read: the last one counted, or one recorded a few
        instructions before it was counted (a stop signal can land in between)."""
        lines = [self.last_line]
        lines.extend(entry.line for entry in self.pending[-1:])
        lines.extend(entry.line for entry in self._unsent[-1:])
        return max(lines)

    def flush_unsent(self) -> None:
        """Hand the entries read since the last window to ``on_unsent``, which records
        them and empties the list, in one step a stop signal cannot split."""
        if self._unsent:
            self._on_unsent(self._unsent)

    def take(self) -> list[Entry]:
        """The entries of the plan just yielded by the tally."""
        batch, self.pending = self.pending, []
        return batch

    def done_with_batch(self) -> None:
        """The plan was sent (or given up): its TTLs are no longer needed."""
        self.ttls.clear()
