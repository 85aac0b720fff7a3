"""The input of ``revoke`` as the library's stream sees it, with the bookkeeping the command
needs around it: which lines each batch came from, where the input stopped, how far
through a file it is.

The validation of each batch and the "Redis is plainly down, send no more" decision are
the library's :class:`~token_blacklist.stream.StreamTally`, the object ``blacklist_stream``
uses. The command reads ``--batch-size`` lines at a time (a block, checked as a whole when
its lines are plain: a million lines per incident) and hands the tally one batch per
block through :class:`Feed`; when a plan arrives, the block the feed handed out last is
exactly that batch.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from .._core.stream import StreamTally
from .._core.validation import TtlSpec
from .token_lines import Block, InputError

__all__ = ["CountingReader", "Feed", "write_lines"]


class CountingReader:
    """Blocks of lines of a binary stream, counting the bytes read (for a percentage and
    an ETA)."""

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

    def blocks(self, size: int) -> Iterator[list[bytes]]:
        """Lists of ``size`` lines (fewer at the end of the input)."""
        stream = self._stream
        while lines := list(itertools.islice(stream, size)):
            self.read += sum(map(len, lines))
            yield lines

    @property
    def fraction(self) -> float | None:
        """How much of a regular file was read, or None when the size is unknown."""
        if not self.size:
            return None
        return min(self.read / self.size, 1.0)


def write_lines(out: IO[str] | None, blocks: Iterable[Block], wanted: set[str] | None) -> None:
    """The lines whose hash is in ``wanted`` (all when None), each hash once, in the input
    format (hash, and TTL when the line had one)."""
    if out is None:
        return
    written: set[str] = set()
    for block in blocks:
        for entry in block.entries():
            if (wanted is None or entry.token_hash in wanted) and entry.token_hash not in written:
                written.add(entry.token_hash)
                out.write(entry.as_line() + "\n")
    out.flush()


class Feed:
    """Batches for :meth:`StreamTally.plans_of`, and what became of their lines.

    Each batch goes with its TTL spec: ``--ttl`` when no line has its own, else a mapping
    of each hash's own TTL (or ``--ttl``), the longer one for a hash repeated in the
    block. Once the tally knows Redis is down, the blocks read are not sent: they go to
    ``on_unsent`` (one block, a batch, at a time, so duplicates are counted as the tally
    does), and the tally itself reports them failed.
    """

    def __init__(
        self,
        blocks: Iterable[Block],
        tally: StreamTally,
        default_ttl: int | None,
        on_unsent: Callable[[list[Block]], None],
    ) -> None:
        self._blocks = blocks
        self._tally = tally
        self._default_ttl = default_ttl
        self._on_unsent = on_unsent
        self.pending: list[Block] = []
        """Read and handed to the tally, in no plan yet (or in the plan being sent)."""
        self._unsent: list[Block] = []
        self.last_line = 0
        """The number of the last usable line read (0: none yet)."""
        self.input_error: InputError | None = None

    def __iter__(self) -> Iterator[tuple[list[str], TtlSpec]]:
        try:
            for block in self._blocks:
                # Recorded first, then counted as read: a stop signal can land between any
                # two steps, and a line counted as read but in no list would be skipped by
                # --resume-from without being sent or listed (seen: 1 run in 4 under CI).
                if self._tally.down is not None:
                    # The tally has validated the block before and counted it failed.
                    self.flush_unsent()
                    self._unsent.append(block)  # straight there: never in neither list
                else:
                    self.pending.append(block)
                self.last_line = block.numbers[-1]
                yield block.hashes, self._ttls(block)
        except InputError as error:
            # Stop the stream here: the tally sends the lines read before this one.
            self.input_error = error

    def _ttls(self, block: Block) -> TtlSpec:
        default = self._default_ttl
        if block.ttls is None:
            assert default is not None  # read_blocks refuses a line without TTL when no default
            return default
        ttls: dict[str, int] = {}
        for token_hash, own in zip(block.hashes, block.ttls, strict=True):
            ttl = default if own is None else own
            assert ttl is not None
            if ttl > ttls.get(token_hash, 0):
                ttls[token_hash] = ttl
        return ttls

    def last_read(self) -> int:
        """The line of the last entry read: the last one counted, or one recorded a few
        instructions before it was counted (a stop signal can land in between)."""
        lines = [self.last_line]
        lines.extend(block.numbers[-1] for block in self.pending[-1:])
        lines.extend(block.numbers[-1] for block in self._unsent[-1:])
        return max(lines)

    def flush_unsent(self) -> None:
        """Hand the blocks read since the last window to ``on_unsent``, which records
        them and empties the list, in one step a stop signal cannot split."""
        if self._unsent:
            self._on_unsent(self._unsent)

    def take(self) -> list[Block]:
        """The blocks of the plan just yielded by the tally."""
        batch, self.pending = self.pending, []
        return batch
