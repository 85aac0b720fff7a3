"""The recordings of blacklist calls and checks: span attributes, metrics and log event of
each, from the same result (see :mod:`.telemetry`, whose :class:`Telemetry` is a
:class:`Recorder` plus the call span's context manager and the rarer events).

Two ways to give a call its span: current while the call runs (``record_*``: needed when
a Redis span may be made under it) or made once the call is over (``finish_*``, see
:meth:`Recorder.finished_span`). Both derive the same attributes (:mod:`.outcomes`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Final

import structlog
from opentelemetry import trace
from opentelemetry.trace import (
    INVALID_SPAN,
    Span,
    SpanKind,
    Status,
    StatusCode,
    TracerProvider,
)
from prometheus_client import CollectorRegistry

from .. import __about__
from .._core.protocol import CheckOutcome
from ..results import BlacklistResult, FailureReason
from .log_context import bound_logger, exemplar, no_exemplar, trace_fields
from .metrics import (
    CHECK_RESULTS,
    OPERATION_OUTCOMES,
    OPERATIONS,
    exemplars_supported,
    incrementer,
    metrics_for,
)
from .outcomes import (
    CACHED_CHECK_ATTRIBUTES,
    LOG_LEVELS,
    blacklist_attributes,
    check_attributes,
    outcome_of,
    reason_fields,
)
from .round_trips import AttributeValue
from .spans import NON_RECORDING, emit, global_provider_unset, record_nodes

__all__ = [
    "BLACKLIST_SPAN",
    "CHECK_SPAN",
    "LOGGER_NAME",
    "Recorder",
    "emit",
    "global_provider_unset",
    "record_nodes",
]  # the last three re-exported from .spans

LOGGER_NAME: Final = "token_blacklist"
BLACKLIST_SPAN: Final = "token_blacklist.blacklist_tokens"
CHECK_SPAN: Final = "token_blacklist.check"


class Recorder:
    """Tracer, pre-bound metric children and logger of one client, and what they record."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None,
        tracer_provider: TracerProvider | None,
        logger: Any,
        server_attributes: Mapping[str, AttributeValue],
    ) -> None:
        self._tracer_provider = tracer_provider
        # An explicit provider's kind never changes: decided once (the global one per call).
        self._explicit_tracing = tracer_provider is not None and not isinstance(
            tracer_provider, NON_RECORDING
        )
        self._tracer = trace.get_tracer(
            LOGGER_NAME, __about__.__version__, tracer_provider=tracer_provider
        )
        self._logger = logger if logger is not None else structlog.get_logger(LOGGER_NAME)
        self._default_logger = logger is None
        self._bound: Any = None  # the logger _logs asks (see log_context.bound_logger)
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
        # A cached hit's increments and histogram, bound once (see _cached_signals).
        self._count_blacklisted = incrementer(self._checks["blacklisted"])
        self._count_not_blacklisted = incrementer(self._checks["not_blacklisted"])
        self._count_check_success = incrementer(self._operations[("check", "success")])
        self._check_duration = self._duration["check"]
        # Multiprocess mode drops exemplars silently: do not build them for nothing.
        self._exemplar = exemplar if exemplars_supported() else no_exemplar

    def _tracing(self) -> bool:
        """False while the tracer can only make non-recording spans: an explicit no-op
        provider, or the global one while no SDK has been installed (checked per call:
        an application may install its SDK after building the client)."""
        provider = self._tracer_provider
        if provider is not None:
            return self._explicit_tracing
        if global_provider_unset():
            return False
        return not isinstance(trace.get_tracer_provider(), NON_RECORDING)

    def finished_span(
        self, name: str, attributes: Mapping[str, AttributeValue], opened: int
    ) -> Span | None:
        """The span of a call that ran without one (nothing needed it current: no Redis
        span could be made under it), made once the call is over: started at ``opened``
        (``time.time_ns()`` when the call began), a child of the current (the caller's)
        span, every attribute given at creation. The caller ends it. None when not tracing.

        One ``start_span`` instead of ``start_as_current_span`` + ``set_attributes``: a
        third of the SDK's cost of a call's span. Span processors see ``on_start`` when the
        call is over rather than when it began.
        """
        return self._made_span(name, attributes, opened) if self._tracing() else None

    def _made_span(self, name: str, attributes: Mapping[str, AttributeValue], opened: int) -> Span:
        """:meth:`finished_span` once ``_tracing()`` said yes."""
        return self._tracer.start_span(
            name,
            kind=SpanKind.INTERNAL,
            attributes={**self._base_attributes, **attributes},
            start_time=opened,
            record_exception=False,
            set_status_on_exception=False,
        )

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
        logger = self._bound
        if logger is None:
            logger, final = bound_logger(self._logger)
            if final:
                self._bound = logger
        is_enabled_for = getattr(logger, "is_enabled_for", None)
        return True if is_enabled_for is None else bool(is_enabled_for(level))

    def record_blacklist(self, span: Span, result: BlacklistResult, duration: float) -> None:
        """Span attributes, metrics and the log event of a finished blacklist call."""
        attributes, reasons, outcome = blacklist_attributes(result)
        span.set_attributes(attributes)
        if reasons:
            span.set_status(Status(StatusCode.ERROR, result.describe()))
        nodes = record_nodes(span)
        self._blacklist_signals(span, False, result, duration, reasons, outcome, nodes)

    def finish_blacklist(self, result: BlacklistResult, opened: int, duration: float) -> None:
        """:meth:`record_blacklist` for a call that ran without a span of its own: the span
        is made now (see :meth:`finished_span`), with every attribute at creation."""
        attributes, reasons, outcome = blacklist_attributes(result)
        span = self.finished_span(BLACKLIST_SPAN, attributes, opened)
        if span is None:
            current = trace.get_current_span()  # its ids: never written to
            self._blacklist_signals(current, False, result, duration, reasons, outcome, {})
            return
        try:
            if reasons:
                span.set_status(Status(StatusCode.ERROR, result.describe()))
            self._blacklist_signals(span, True, result, duration, reasons, outcome, {})
        finally:
            span.end()

    def _blacklist_signals(  # noqa: PLR0917 - private, two callers
        self,
        span: Span,
        attach: bool,
        result: BlacklistResult,
        duration: float,
        reasons: dict[FailureReason, int],
        outcome: str,
        node_fields: dict[str, int | list[str]],
    ) -> None:
        """The metrics and log event; ``attach``: ``span`` was made after the call (current
        around the log event only); ``node_fields``: a cluster call's nodes."""
        if result.succeeded:
            self._tokens_succeeded.inc(result.succeeded)
        if reasons:
            self._tokens_failed.inc(result.failed)
            for reason, count in reasons.items():
                self._failures[reason].inc(count)
        self._operations[("blacklist", outcome)].inc()
        self._duration["blacklist"].observe(duration, self._exemplar(span))
        self._batch_size.observe(result.requested)

        if not self._logs(LOG_LEVELS[outcome]):
            return  # the common success event at debug: no fields built for nobody
        fields = {
            "requested": result.requested,
            "succeeded": result.succeeded,
            "failed": result.failed,
            "reasons": reason_fields(reasons),
            "chunks": result.chunks,
            "duration_ms": round(duration * 1000, 3),
            **node_fields,
            **trace_fields(span),
        }
        if outcome == "success":
            log = self._logger.debug
            event = "token_blacklist.blacklisted"
        elif outcome == "partial":
            log, event = self._logger.warning, "token_blacklist.partial_failure"
        else:
            log, event = self._logger.error, "token_blacklist.failure"
        emit(span if attach else None, log, event, fields)

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
        node_fields = record_nodes(span)
        attributes, counts = check_attributes(checked, outcome, policy, subject_revoked)
        span.set_attributes(attributes)
        if counts:
            span.set_status(
                Status(StatusCode.ERROR, f"{len(outcome.errors)} of {checked} checks failed")
            )
        self._check_signals(span, False, checked, outcome, policy, duration, counts, node_fields)

    def finish_check(  # noqa: PLR0917 - mirrors record_check
        self,
        checked: int,
        outcome: CheckOutcome,
        policy: str,
        opened: int,
        duration: float,
        subject_revoked: bool | None = None,
    ) -> None:
        """:meth:`record_check` for a check that ran without a span of its own."""
        attributes, counts = check_attributes(checked, outcome, policy, subject_revoked)
        span = self.finished_span(CHECK_SPAN, attributes, opened)
        if span is None:
            current = trace.get_current_span()
            self._check_signals(current, False, checked, outcome, policy, duration, counts, {})
            return
        try:
            if counts:
                span.set_status(
                    Status(StatusCode.ERROR, f"{len(outcome.errors)} of {checked} checks failed")
                )
            self._check_signals(span, True, checked, outcome, policy, duration, counts, {})
        finally:
            span.end()

    def finish_cached_check(self, blacklisted: bool, started: float) -> None:
        """:meth:`finish_check` for one hash answered from memory (``check_cache=``): the
        same span, metrics and events, and ``token_blacklist.check.cached=true``.
        ``started``: the call's ``perf_counter()``; its wall-clock start is worked out only
        when a span is made."""
        duration = time.perf_counter() - started
        if not self._tracing():
            self._cached_signals(trace.get_current_span(), blacklisted, duration)
            return
        opened = time.time_ns() - int(duration * 1e9)
        span = self._made_span(CHECK_SPAN, CACHED_CHECK_ATTRIBUTES[blacklisted], opened)
        try:
            self._cached_signals(span, blacklisted, duration)
        finally:
            span.end()

    def _cached_signals(self, span: Span, blacklisted: bool, duration: float) -> None:
        """:meth:`_check_signals` of one answer from memory (no error, nothing to log)."""
        (self._count_blacklisted if blacklisted else self._count_not_blacklisted)(1)
        self._count_check_success(1)
        if span is INVALID_SPAN:  # no span current: no exemplar to link
            self._check_duration.observe(duration)
        else:
            self._check_duration.observe(duration, self._exemplar(span))

    def _check_signals(  # noqa: PLR0917 - private, two callers
        self,
        span: Span,
        attach: bool,
        checked: int,
        outcome: CheckOutcome,
        policy: str,
        duration: float,
        counts: dict[FailureReason, int],
        node_fields: dict[str, int | list[str]],
    ) -> None:
        errors = len(outcome.errors)
        blacklisted = len(outcome.blacklisted)
        answered = checked - errors
        if errors:
            self._checks["error"].inc(errors)
        if blacklisted:
            self._checks["blacklisted"].inc(blacklisted)
        if answered - blacklisted:
            self._checks["not_blacklisted"].inc(answered - blacklisted)
        op_outcome = outcome_of(answered, errors)
        self._operations[("check", op_outcome)].inc()
        self._duration["check"].observe(duration, self._exemplar(span))
        if errors:
            log = self._logger.error if op_outcome == "failure" else self._logger.warning
            fields = {
                "checked": checked,
                "errors": errors,
                "reasons": reason_fields(counts),
                "policy": policy,
                "duration_ms": round(duration * 1000, 3),
                **node_fields,
                **trace_fields(span),
            }
            emit(span if attach else None, log, "token_blacklist.check_failed", fields)
