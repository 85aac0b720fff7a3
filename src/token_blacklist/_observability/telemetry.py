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
from typing import Any, Final

import structlog
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
    TracerProvider,
)
from prometheus_client import CollectorRegistry

from .. import __about__
from .._core.protocol import CheckOutcome
from ..results import BlacklistResult, FailureReason, RevokeAllResult
from .log_context import exemplar, no_exemplar, trace_fields
from .metrics import (
    CHECK_RESULTS,
    OPERATION_OUTCOMES,
    OPERATIONS,
    exemplars_supported,
    metrics_for,
)
from .nodes import collect_nodes, current_node_fields
from .round_trips import AttributeValue, RoundTripSpans, RoundTripTracing, record_crash

__all__ = ["BLACKLIST_SPAN", "CHECK_SPAN", "LOGGER_NAME", "REVOKE_ALL_SPAN", "Telemetry"]

LOGGER_NAME: Final = "token_blacklist"
BLACKLIST_SPAN: Final = "token_blacklist.blacklist_tokens"
CHECK_SPAN: Final = "token_blacklist.check"
REVOKE_ALL_SPAN: Final = "token_blacklist.revoke_all"

_LOG_LEVELS: Final = {
    "success": logging.DEBUG,
    "partial": logging.WARNING,
    "failure": logging.ERROR,
}


def _record_nodes(span: Span) -> dict[str, int | list[str]]:
    """Cluster calls: how many nodes took part and which lost a round trip (by address)."""
    fields = current_node_fields()
    for name, value in fields.items():
        span.set_attribute(f"token_blacklist.{name}", value)
    return fields


def _reason_fields(reasons: Mapping[FailureReason, int]) -> dict[str, int]:
    return {reason.value: count for reason, count in reasons.items()}


def _outcome(succeeded: int, failed: int) -> str:
    if failed == 0:
        return "success"
    return "failure" if succeeded == 0 else "partial"


class Telemetry:
    """Tracer, pre-bound metric children and logger of one client."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None,
        tracer_provider: TracerProvider | None,
        logger: Any,
        server_attributes: Mapping[str, AttributeValue],
    ) -> None:
        self._tracer_provider = tracer_provider
        self._tracer = trace.get_tracer(
            LOGGER_NAME, __about__.__version__, tracer_provider=tracer_provider
        )
        self._logger = logger if logger is not None else structlog.get_logger(LOGGER_NAME)
        self._default_logger = logger is None
        self._base_attributes: dict[str, AttributeValue] = {
            "db.system.name": "redis",
            **server_attributes,
        }
        metrics = metrics_for(registry)
        self._tokens_succeeded = metrics.tokens.labels("succeeded")
        self._tokens_failed = metrics.tokens.labels("failed")
        self._failures = {r: metrics.token_failures.labels(r.value) for r in FailureReason}
        self._operations = {
            (op, outcome): metrics.operations.labels(op, outcome)
            for op in OPERATIONS
            for outcome in OPERATION_OUTCOMES
        }
        self._duration = {op: metrics.duration.labels(op) for op in OPERATIONS}
        self._batch_size = metrics.batch_size
        self._checks = {r: metrics.checks.labels(r) for r in CHECK_RESULTS}
        # Multiprocess mode drops exemplars silently: do not build them for nothing.
        self._exemplar = exemplar if exemplars_supported() else no_exemplar

    def round_trip_spans(self, mode: RoundTripTracing, client: object) -> RoundTripSpans | None:
        """The fast path's round-trip spans for ``trace_round_trips=mode`` (see
        :mod:`.round_trips`), through this client's tracer."""
        return RoundTripSpans.for_client(mode, client, self._tracer, self._base_attributes)

    def _tracing(self) -> bool:
        """False while the tracer can only make non-recording spans: an explicit no-op
        provider, or the global one while no SDK has been installed (checked per call:
        an application may install its SDK after building the client)."""
        provider = self._tracer_provider
        if provider is None:
            provider = trace.get_tracer_provider()
        return not isinstance(provider, ProxyTracerProvider | NoOpTracerProvider)

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

    def _logs(self, level: int) -> bool:
        """Whether an event at ``level`` would be emitted (its fields are built only then).

        Unconfigured structlog prints every level, debug included, to stdout. A library
        must not flood an application that configured nothing, nor configure logging for
        it: with the default logger and structlog unconfigured, only warnings and errors
        are emitted, as the stdlib's last-resort handler does. An injected or configured
        logger decides for itself through ``is_enabled_for`` when it has one.
        """
        if self._default_logger and not structlog.is_configured():
            return level >= logging.WARNING
        is_enabled_for = getattr(self._logger, "is_enabled_for", None)
        return True if is_enabled_for is None else bool(is_enabled_for(level))

    def record_blacklist(self, span: Span, result: BlacklistResult, duration: float) -> None:
        """Span attributes, metrics and the log event of a finished blacklist call."""
        failed = result.failed
        reasons = result.reasons if failed else {}
        attributes: dict[str, AttributeValue] = {
            "token_blacklist.requested": result.requested,
            "token_blacklist.succeeded": result.succeeded,
            "token_blacklist.failed": failed,
            "token_blacklist.chunks": result.chunks,
            "token_blacklist.round_trips": result.round_trips,
        }
        for reason, count in reasons.items():
            attributes[f"token_blacklist.failures.{reason.value}"] = count
        outcome = _outcome(result.succeeded, failed)
        if failed:
            attributes["error.type"] = next(iter(reasons)).value
        span.set_attributes(attributes)
        if failed:
            span.set_status(Status(StatusCode.ERROR, result.describe()))

        if result.succeeded:
            self._tokens_succeeded.inc(result.succeeded)
        if failed:
            self._tokens_failed.inc(failed)
            for reason, count in reasons.items():
                self._failures[reason].inc(count)
        self._operations[("blacklist", outcome)].inc()
        self._duration["blacklist"].observe(duration, self._exemplar(span))
        self._batch_size.observe(result.requested)

        node_fields = _record_nodes(span)
        if not self._logs(_LOG_LEVELS[outcome]):
            return  # the common success event at debug: no fields built for nobody
        fields = {
            "requested": result.requested,
            "succeeded": result.succeeded,
            "failed": failed,
            "reasons": _reason_fields(reasons),
            "chunks": result.chunks,
            "duration_ms": round(duration * 1000, 3),
            **node_fields,
            **trace_fields(span),
        }
        if outcome == "success":
            self._logger.debug("token_blacklist.blacklisted", **fields)
        elif outcome == "partial":
            self._logger.warning("token_blacklist.partial_failure", **fields)
        else:
            self._logger.error("token_blacklist.failure", **fields)

    def record_check(
        self,
        span: Span,
        checked: int,
        outcome: CheckOutcome,
        policy: str,
        duration: float,
        *,
        subject_revoked: bool | None = None,
    ) -> None:
        """Span attributes, metrics and (on errors) the log event of a finished check.

        ``subject_revoked`` (subject-aware checks only): whether the subject's not-before,
        rather than the token's own key, is what blacklisted the token.
        """
        errors = len(outcome.errors)
        blacklisted = len(outcome.blacklisted)
        answered = checked - errors
        node_fields = _record_nodes(span)
        attributes: dict[str, AttributeValue] = {
            "token_blacklist.checked": checked,
            "token_blacklist.blacklisted": blacklisted,
            "token_blacklist.check_errors": errors,
        }
        if subject_revoked is not None:
            attributes["token_blacklist.subject_revoked"] = subject_revoked
        op_outcome = _outcome(answered, errors)
        if errors:
            counts: dict[FailureReason, int] = {}
            for reason in outcome.errors.values():
                counts[reason] = counts.get(reason, 0) + 1
            dominant = max(counts, key=counts.__getitem__)
            attributes["error.type"] = dominant.value
            attributes["token_blacklist.on_check_error"] = policy
            span.set_attributes(attributes)
            span.set_status(Status(StatusCode.ERROR, f"{errors} of {checked} checks failed"))
            self._checks["error"].inc(errors)
        else:
            span.set_attributes(attributes)
        if blacklisted:
            self._checks["blacklisted"].inc(blacklisted)
        if answered - blacklisted:
            self._checks["not_blacklisted"].inc(answered - blacklisted)
        self._operations[("check", op_outcome)].inc()
        self._duration["check"].observe(duration, self._exemplar(span))
        if errors:
            log = self._logger.error if op_outcome == "failure" else self._logger.warning
            log(
                "token_blacklist.check_failed",
                checked=checked,
                errors=errors,
                reasons=_reason_fields(counts),
                policy=policy,
                duration_ms=round(duration * 1000, 3),
                **node_fields,
                **trace_fields(span),
            )

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
