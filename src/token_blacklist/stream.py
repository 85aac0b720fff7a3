"""Sans-IO support for ``blacklist_stream``: batches from any iterable, and the tally of
their results into one :class:`BlacklistResult`.

A stream is never materialised: memory is bounded by one batch plus the failures seen so
far. The price is stated in the shells' docstrings: duplicates are only removed within a
batch, and invalid input in a later batch raises after earlier batches were written (the
exception carries ``partial_result``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from types import MappingProxyType

from opentelemetry.trace import Span

from .plan import BlacklistPlan, TtlSpec, plan_blacklist
from .result import BlacklistResult, FailureReason
from .telemetry import Telemetry

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "StreamTally",
    "attach_partial",
    "batches",
    "check_batch_size",
    "record_interrupted",
    "shift_position",
]

DEFAULT_BATCH_SIZE = 10_000
MAX_BATCH_SIZE = 1_000_000
_UNREACHABLE = frozenset({FailureReason.CONNECTION, FailureReason.TIMEOUT})
_POSITION = re.compile(r"token_hashes\[(\d+)\]")


def check_batch_size(batch_size: object) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"batch_size must be an int, not {type(batch_size).__name__}")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
    return batch_size


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


def shift_position(error: Exception, offset: int) -> Exception:
    """Make a batch's validation error name the position in the whole stream."""
    if offset and error.args and isinstance(error.args[0], str):
        message = _POSITION.sub(
            lambda m: f"token_hashes[{int(m.group(1)) + offset}]", error.args[0]
        )
        error.args = (message, *error.args[1:])
    index = getattr(error, "index", None)
    if offset and isinstance(index, int):
        error.index = index + offset  # type: ignore[attr-defined]
    return error


def attach_partial(error: BaseException, result: BlacklistResult) -> None:
    """What was written before ``error`` interrupted the stream: ``error.partial_result``."""
    error.partial_result = result  # type: ignore[attr-defined]


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

    def plans_to_send(
        self, token_hashes: Iterable[str], ttl: TtlSpec, batch_size: int, chunk_size: int
    ) -> Iterator[BlacklistPlan]:
        """Each batch validated (positions in errors count from the stream's start), to be
        sent and its result given to :meth:`add`; once Redis is plainly down, the batches
        left are tallied as failed here and not yielded."""
        offset = 0
        for batch in batches(token_hashes, batch_size):
            try:
                plan = plan_blacklist(batch, ttl)
            except (TypeError, ValueError) as error:
                raise shift_position(error, offset) from None
            offset += len(batch)
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
            if reason in _UNREACHABLE:
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


def record_interrupted(
    telemetry: Telemetry, span: Span, error: Exception, partial: BlacklistResult, duration: float
) -> None:
    """A stream stopped by bad input (or a failing iterable) after earlier batches were sent:
    the written batches are recorded as a blacklist operation, the input error as a
    rejection, and the partial result rides on the exception."""
    attach_partial(error, partial)
    if partial.requested:
        telemetry.record_blacklist(span, partial, duration)
    if isinstance(error, TypeError | ValueError):
        telemetry.record_rejected("blacklist", error, span)
