"""CLIENT spans for the round trips of the fast path, which redis-py instrumentation cannot see.

``opentelemetry-instrumentation-redis`` wraps redis-py's ``execute_command`` and pipeline
``execute``; the fast path (:mod:`.wire`) writes hand-packed buffers on the client's own
connection, so without these spans a trace would show ``token_blacklist.blacklist_tokens``
with no Redis call under it. The pipeline paths (``fast_path=False``, ``revoke_all``,
Cluster, Sentinel) stay redis-py's, and its instrumentation, when
installed, traces them: nothing is traced twice.

Whether to make them is ``trace_round_trips``: ``"auto"`` (the default) while redis-py's
own commands are traced by that instrumentation (globally, or for this client with
``RedisInstrumentor.instrument_client``), so a trace shows Redis spans on the fast path
exactly when it would on the pipeline path, and an application that never asked for Redis
spans does not pay for them; ``True`` always; ``False`` never.

Spans follow OpenTelemetry's database conventions: kind CLIENT, named by
``db.operation.name`` (``SET``, ``BATCH SET`` for a chunk of several, ``BATCH`` for the
``EXISTS`` + ``ZSCORE`` of a subject-aware check), with
``db.system.name``, ``server.address``/``server.port``, ``db.operation.batch.size`` and,
on failure, ``error.type`` = the :class:`FailureReason` value. No key, hash or Redis error
message is recorded. A span is made only while the caller's span is recording, so an
unsampled or untraced call pays one context lookup per round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from .._core.classify import classify_error

__all__ = [
    "AttributeValue",
    "RoundTripSpans",
    "RoundTripTracing",
    "check_round_trip_tracing",
    "record_crash",
]

AttributeValue = str | int | float | bool
"""What a span attribute of this library can hold."""
RoundTripTracing = bool | Literal["auto"]
"""``trace_round_trips``: ``"auto"``, ``True`` or ``False`` (see the module docstring)."""
_CLIENT: Final = SpanKind.CLIENT


def record_crash(span: Span, error: BaseException) -> None:
    """An unexpected exception escaped (a bug or a cancellation): its class name only.

    Never the exception text: redis-py messages name keys.
    """
    error_type = type(error).__qualname__
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


def check_round_trip_tracing(value: object) -> RoundTripTracing:
    if value is True or value is False or value == "auto":
        return value
    raise ValueError(f"trace_round_trips must be True, False or 'auto', got {value!r}")


def redis_py_traced(client: object) -> Callable[[], bool]:
    """Whether ``client``'s commands are wrapped by opentelemetry-instrumentation-redis,
    asked per round trip (an application may instrument after building the client)."""

    def traced() -> bool:
        return hasattr(getattr(client, "execute_command", None), "__wrapped__")

    return traced


class RoundTripSpans:
    """Starts and ends the CLIENT span of one round trip of one client."""

    __slots__ = ("_attributes", "_tracer", "_wanted")

    def __init__(
        self,
        tracer: Tracer,
        attributes: Mapping[str, AttributeValue],
        wanted: Callable[[], bool] | None = None,
    ) -> None:
        self._tracer = tracer
        self._attributes = dict(attributes)
        self._wanted = wanted

    @classmethod
    def for_client(
        cls,
        mode: RoundTripTracing,
        client: object,
        tracer: Tracer,
        attributes: Mapping[str, AttributeValue],
    ) -> RoundTripSpans | None:
        """The spans ``trace_round_trips=mode`` asks for, or None for none at all."""
        if not check_round_trip_tracing(mode):
            return None
        return cls(tracer, attributes, None if mode is True else redis_py_traced(client))

    def wanted(self) -> bool:
        """Whether round trips are to be traced now (while the call's span is recording)."""
        return self._wanted is None or self._wanted()

    def start(self, command: str | None, count: int) -> Span | None:
        """The span of a round trip of ``count`` ``command`` s (None: different commands),
        or None when not traced."""
        if self._wanted is not None and not self._wanted():
            return None
        if not trace.get_current_span().is_recording():
            return None
        attributes = dict(self._attributes)
        if count > 1:
            name = f"BATCH {command}" if command else "BATCH"
            attributes["db.operation.batch.size"] = count
        else:
            name = command or "BATCH"
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
