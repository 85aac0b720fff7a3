"""Trace ids in log events and exemplars: the structlog processor for applications, and
the fields of the library's own events."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span

__all__ = ["add_trace_context", "exemplar", "no_exemplar", "trace_fields"]


def add_trace_context(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add ``trace_id`` and ``span_id`` (lowercase hex) when a valid span is current.

    Put it in your own structlog ``processors`` so the application's events carry the same
    ids as this library's events and the spans of the request. Ids already present (the
    library's own events carry them) are left as they are.
    """
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def trace_fields(span: Span) -> dict[str, str]:
    context = span.get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


def exemplar(span: Span) -> dict[str, str] | None:
    context = span.get_span_context()
    if context.is_valid and context.trace_flags.sampled:
        return {"trace_id": format(context.trace_id, "032x")}
    return None


def no_exemplar(span: Span) -> None:
    return None
