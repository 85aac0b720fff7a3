"""Sans-IO support for ``blacklist_stream``: batches from any iterable, and the tally of
their results into one :class:`BlacklistResult`.

A stream is never materialised: memory is bounded by one batch plus the failures seen so
far. The price is stated in the shells' docstrings: duplicates are only removed within a
batch, and invalid input in a later batch raises after earlier batches were written (the
exception carries ``partial_result``, see :meth:`StreamTally.interrupted`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from itertools import islice
from types import MappingProxyType

from ..errors import BlacklistStreamError, InvalidInput, InvalidInputType
from ..results import BlacklistResult, FailureReason
from .classify import RETRIABLE
from .validation import BlacklistPlan, TtlSpec, check_int, plan_blacklist, plan_checked

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "StreamTally",
    "batches",
    "check_batch_size",
]

DEFAULT_BATCH_SIZE = 10_000
MAX_BATCH_SIZE = 1_000_000


def check_batch_size(batch_size: object) -> int:
    return check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE)


def batches(token_hashes: Iterable[str], batch_size: int) -> Iterator[list[str]]:
    """Lists of at most ``batch_size`` items, read lazily. A ``str`` or a mapping is refused
    up front (iterating a string would blacklist its characters)."""
    if isinstance(token_hashes, str | bytes | bytearray | memoryview | Mapping):
        raise TypeError(
            f"token_hashes must be an iterable of str hashes, not a {type(token_hashes).__name__}"
        )
    try:
        items = iter(token_hashes)
    except TypeError:
        raise TypeError(
            f"token_hashes must be an iterable of str hashes, not {type(token_hashes).__name__}"
        ) from None
    while batch := list(islice(items, batch_size)):
        yield batch


class StreamTally:
    """Sums batch results; notices when Redis is plainly down, as the protocol does within
    one call, so later batches are reported failed without being sent."""

    def __init__(self) -> None:
        self.requested = 0
        self.succeeded = 0
        self.chunks = 0
        self.round_trips = 0
        self.failures: dict[str, FailureReason] = {}
        self.down: FailureReason | None = None
        self.servers_down: dict[Hashable, FailureReason] = {}
        """What the protocol learned of down servers (cluster nodes), for the next batches."""
        self._offset = 0

    def plans_to_send(
        self, token_hashes: Iterable[str], ttl: TtlSpec, batch_size: int, chunk_size: int
    ) -> Iterator[BlacklistPlan]:
        """Each batch validated (positions in errors count from the stream's start), to be
        sent and its result given to :meth:`add`; once Redis is plainly down, the batches
        left are tallied as failed here and not yielded."""
        cut = ((batch, ttl) for batch in batches(token_hashes, batch_size))
        return self.plans_of(cut, chunk_size)

    def plans_of(
        self,
        batches: Iterable[tuple[list[str], TtlSpec]],
        chunk_size: int,
        *,
        checked: bool = False,
    ) -> Iterator[BlacklistPlan]:
        """:meth:`plans_to_send` of batches the caller cut, each with its own TTL spec
        (``token-blacklist revoke`` reads its input a block of lines at a time);
        ``checked``: every hash was already held to ``validate_hash``'s rules (the
        command's reader), so only the TTL spec is validated here."""
        self._offset = 0
        plan_of = plan_checked if checked else plan_blacklist
        for batch, ttl in batches:
            plan = plan_of(batch, ttl)
            self._offset += len(batch)
            if self.down is None:
                yield plan
            else:
                self._skip(plan.hashes, chunk_size, self.down)

    def add(self, result: BlacklistResult) -> None:
        self.requested += result.requested
        self.succeeded += result.succeeded
        self.chunks += result.chunks
        self.round_trips += result.round_trips
        self.failures.update(result.failures)
        reasons = set(result.failures.values())
        if result.requested and result.succeeded == 0 and len(reasons) == 1:
            reason = reasons.pop()
            if reason in RETRIABLE:  # every hash of a whole batch, after its retries
                self.down = reason

    def _skip(self, distinct: list[str], chunk_size: int, reason: FailureReason) -> None:
        """A validated batch not sent because Redis is down: every hash failed."""
        self.requested += len(distinct)
        self.chunks += -(-len(distinct) // chunk_size)
        self.failures.update(dict.fromkeys(distinct, reason))

    def result(self) -> BlacklistResult:
        return BlacklistResult(
            requested=self.requested,
            succeeded=self.succeeded,
            failures=MappingProxyType(self.failures),
            chunks=self.chunks,
            round_trips=self.round_trips,
        )

    def interrupted(self, error: Exception) -> Exception:
        """The exception ``blacklist_stream`` raises for ``error``, which stopped the
        stream: it names positions from the stream's start and carries ``partial_result``,
        the result of the batches sent before it.

        An input error of this library is rebuilt with both; a ``TypeError`` becomes an
        :class:`InvalidInputType` (still a ``TypeError``); anything the iterable itself
        raised becomes a :class:`BlacklistStreamError` with ``error`` as its cause.
        """
        partial = self.result()
        rebuilt: Exception
        if isinstance(error, InvalidInput | InvalidInputType):
            rebuilt = error.in_stream(self._offset, partial)
        elif isinstance(error, TypeError):
            rebuilt = InvalidInputType(str(error)).in_stream(self._offset, partial)
        else:
            rebuilt = BlacklistStreamError(partial)
            rebuilt.__cause__ = error
            return rebuilt
        rebuilt.__suppress_context__ = True  # the same error, with stream positions
        return rebuilt
