"""The one telemetry point: span, metrics and log event of a call, from the same result.

Each client owns one :class:`Telemetry`. The shells open a span with :meth:`span` and hand
the finished :class:`BlacklistResult` (or check outcome) to a ``record_*`` method, which
derives the span attributes, the metric increments and the log event from it, so the three
can never disagree. Nothing here configures global logging or tracing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind, Status, StatusCode

from ..results import BlacklistResult, FailureReason, RevokeAllResult
from .log_context import trace_fields
from .nodes import collect_nodes
from .recorder import BLACKLIST_SPAN, CHECK_SPAN, LOGGER_NAME, Recorder
from .round_trips import AttributeValue, RoundTripSpans, RoundTripTracing, record_crash

__all__ = ["BLACKLIST_SPAN", "CHECK_SPAN", "LOGGER_NAME", "REVOKE_ALL_SPAN", "Telemetry"]

REVOKE_ALL_SPAN: Final = "token_blacklist.revoke_all"


class Telemetry(Recorder):
    """The :class:`Recorder` of one client, with the call span's context manager and the
    recordings of rejected input, interrupted streams and ``revoke_all``."""

    def round_trip_spans(self, mode: RoundTripTracing, client: object) -> RoundTripSpans | None:
        """The fast path's round-trip spans for ``trace_round_trips=mode`` (see
        :mod:`.round_trips`), through this client's tracer."""
        return RoundTripSpans.for_client(mode, client, self._tracer, self._base_attributes)

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, AttributeValue]) -> Iterator[Span]:
        """Open the call's span as current (so Redis spans nest under it).

        Exceptions are not recorded by OpenTelemetry itself: its event would carry the
        exception text and traceback (including chained redis-py messages, which name
        keys). :func:`.round_trips.record_crash` records the class only.
        """
        if not self._tracing():
            # No SDK behind the tracer: what it would make is a non-recording span carrying
            # the current context. Make that directly and skip attaching it (a span started
            # during the call gets the same parent either way): several microseconds a call.
            # Events still carry the caller's ids; the caller's span is never written to.
            with collect_nodes():
                yield NonRecordingSpan(trace.get_current_span().get_span_context())
            return
        with (
            collect_nodes(),
            self._tracer.start_as_current_span(
                name,
                kind=SpanKind.INTERNAL,
                attributes={**self._base_attributes, **attributes},
                record_exception=False,
                set_status_on_exception=False,
            ) as span,
        ):
            try:
                yield span
            except BaseException as error:
                record_crash(span, error)
                raise

    def finish_rejected(self, name: str, operation: str, error: Exception, opened: int) -> None:
        """:meth:`record_rejected` for a call without a span of its own: its span carries
        the error's class, as the span of :meth:`span` does when the error escapes it."""
        error_type = type(error).__qualname__
        span = self.finished_span(name, {"error.type": error_type}, opened)
        if span is None:
            self.record_rejected(operation, error, trace.get_current_span())
            return
        try:
            span.set_status(Status(StatusCode.ERROR, error_type))
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                self.record_rejected(operation, error, span)
        finally:
            span.end()

    def finish_crashed(
        self, name: str, error: BaseException, opened: int, attributes: Mapping[str, int]
    ) -> None:
        """An unexpected exception (a cancellation, an interrupt, a bug) escaped a call
        without a span of its own: its span says so by class, as :meth:`span` does."""
        span = self.finished_span(name, attributes, opened)
        if span is not None:
            record_crash(span, error)
            span.end()

    def record_rejected(self, operation: str, error: Exception, span: Span | None = None) -> None:
        """Input was refused before any command was sent."""
        self._operations[(operation, "rejected")].inc()
        fields = trace_fields(span) if span is not None else {}
        # The messages of our input errors name positions, never values: safe to log.
        self._logger.warning(
            "token_blacklist.rejected",
            operation=operation,
            error_type=type(error).__name__,
            error=str(error),
            **fields,
        )

    def record_interrupted(
        self, span: Span, error: Exception, partial: BlacklistResult, duration: float
    ) -> None:
        """A stream stopped by bad input (or a failing iterable) after earlier batches were
        sent: the written batches are recorded as a blacklist operation, an input error as
        a rejection."""
        if partial.requested:
            self.record_blacklist(span, partial, duration)
        if isinstance(error, TypeError | ValueError):
            self.record_rejected("blacklist", error, span)

    def record_revoke_all(self, span: Span, result: RevokeAllResult, duration: float) -> None:
        """Span attributes, metrics and the log event of a finished ``revoke_all``.

        The subject appears nowhere: not in the span, a label or the log event.
        """
        outcome = "success" if result.ok else "failure"
        span.set_attributes(
            {
                "token_blacklist.not_before": result.not_before,
                "token_blacklist.round_trips": result.round_trips,
            }
        )
        if result.reason is not None:
            span.set_attribute("error.type", result.reason.value)
            span.set_status(Status(StatusCode.ERROR, result.describe()))
        self._operations[("revoke_all", outcome)].inc()
        self._duration["revoke_all"].observe(duration, self._exemplar(span))
        fields = {
            "not_before": result.not_before,
            "round_trips": result.round_trips,
            "duration_ms": round(duration * 1000, 3),
            **trace_fields(span),
        }
        if result.ok:
            if self._logs(logging.INFO):
                self._logger.info("token_blacklist.subject_revoked", **fields)
        else:
            reason = result.reason.value if result.reason else FailureReason.OTHER.value
            self._logger.error("token_blacklist.revoke_all_failed", reason=reason, **fields)
