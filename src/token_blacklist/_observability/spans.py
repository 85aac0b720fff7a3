"""Helpers of a call's span: whether any SDK can record it, the cluster nodes it names,
and a log event with a span made after the call current around it (see :mod:`.recorder`)."""

from __future__ import annotations

import os
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_PYTHON_TRACER_PROVIDER
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Span

from .nodes import current_node_fields

__all__ = ["NON_RECORDING", "emit", "global_provider_unset", "record_nodes"]

NON_RECORDING: Final = (ProxyTracerProvider, NoOpTracerProvider)
_MISSING: Final = object()
_ENVIRONMENT_NAMES_A_PROVIDER: Final = OTEL_PYTHON_TRACER_PROVIDER in os.environ


def global_provider_unset() -> bool:
    """True while no global tracer provider is set (nor named by the environment when this
    module was imported: ``OTEL_PYTHON_TRACER_PROVIDER`` set later is honoured only once
    something calls ``trace.get_tracer_provider()``, as OpenTelemetry's own setup does):
    the API's ``get_tracer_provider()`` would answer its proxy, after
    an ``os.environ`` lookup that raises and catches a ``KeyError``: about a microsecond,
    a fifth of a check answered from memory. Read from the API's module global; if a later
    API renames it, the public call decides (``tests/test_telemetry_global.py`` notices)."""
    provider = getattr(trace, "_TRACER_PROVIDER", _MISSING)
    if provider is _MISSING or _ENVIRONMENT_NAMES_A_PROVIDER:
        return isinstance(trace.get_tracer_provider(), NON_RECORDING)
    return provider is None


def record_nodes(span: Span) -> dict[str, int | list[str]]:
    """Cluster calls: how many nodes took part and which lost a round trip (by address)."""
    fields = current_node_fields()
    for name, value in fields.items():
        span.set_attribute(f"token_blacklist.{name}", value)
    return fields


def emit(span: Span | None, log: Any, event: str, fields: dict[str, Any]) -> None:
    """Log ``event``; with a span made after the call, that span is current meanwhile
    (an application's processors and handlers see the ids the event carries)."""
    if span is None:
        log(event, **fields)
        return
    with trace.use_span(span, record_exception=False, set_status_on_exception=False):
        log(event, **fields)
