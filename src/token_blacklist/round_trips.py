"""CLIENT spans for the round trips of the fast path, which redis-py instrumentation cannot see.

``opentelemetry-instrumentation-redis`` wraps redis-py's ``execute_command`` and pipeline
``execute``; the fast path (:mod:`.wire`) writes hand-packed buffers on the client's own
connection, so without these spans a trace would show ``token_blacklist.blacklist_tokens``
with no Redis call under it. The pipeline paths (``fast_path=False``, checks with a
subject, ``revoke_all``, Cluster, Sentinel) stay redis-py's, and its instrumentation, when
installed, traces them: nothing is traced twice.

Spans follow OpenTelemetry's database conventions: kind CLIENT, named by
``db.operation.name`` (``SET``, or ``BATCH SET`` for a chunk of several), with
``db.system.name``, ``server.address``/``server.port``, ``db.operation.batch.size`` and,
on failure, ``error.type`` = the :class:`FailureReason` value. No key, hash or Redis error
message is recorded. A span is made only while the caller's span is recording, so an
unsampled or untraced call pays one context lookup per round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from .classify import classify_error

__all__ = ["RoundTripSpans", "record_crash"]

AttributeValue = str | int | float | bool
_CLIENT: Final = SpanKind.CLIENT


def record_crash(span: Span, error: BaseException) -> None:
    """An unexpected exception escaped (a bug or a cancellation): its class name only.

    Never the exception text: redis-py messages name keys.
    """
    error_type = type(error).__qualname__
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


class RoundTripSpans:
    """Starts and ends the CLIENT span of one round trip of one client."""

    __slots__ = ("_attributes", "_tracer")

    def __init__(self, tracer: Tracer, attributes: Mapping[str, AttributeValue]) -> None:
        self._tracer = tracer
        self._attributes = dict(attributes)

    def start(self, command: str, count: int) -> Span | None:
        """The span of a round trip of ``count`` ``command`` s, or None when not traced."""
        if not trace.get_current_span().is_recording():
            return None
        attributes = dict(self._attributes)
        if count > 1:
            name = f"BATCH {command}"
            attributes["db.operation.batch.size"] = count
        else:
            name = command
        attributes["db.operation.name"] = name
        return self._tracer.start_span(
            name, kind=_CLIENT, attributes=attributes, record_exception=False
        )

    @staticmethod
    def end(span: Span, reply: object) -> None:
        """End the span; a lost round trip (an exception for a reply) marks it failed.

        Error replies of single commands (OOM, NOPERM...) are answers, not a failed
        round trip: the call's own span counts them by reason.
        """
        if isinstance(reply, BaseException):
            reason = classify_error(reply).value
            span.set_attribute("error.type", reason)
            span.set_status(Status(StatusCode.ERROR, reason))
        span.end()

    @staticmethod
    def crashed(span: Span, error: BaseException) -> None:
        """An exception escaped the round trip (a cancellation or a bug)."""
        record_crash(span, error)
        span.end()
