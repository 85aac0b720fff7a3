"""Trace ids in log events and exemplars: the structlog processor for applications, and
the fields of the library's own events."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import Span

__all__ = ["add_trace_context", "bound_logger", "exemplar", "no_exemplar", "trace_fields"]

_LAZY_PROXY = type(structlog.get_logger())  # structlog's BoundLoggerLazyProxy


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


def bound_logger(logger: Any) -> tuple[Any, bool]:
    """The logger to ask ``is_enabled_for``, and whether it is final (may be kept).

    A structlog lazy proxy (``get_logger``, ``wrap_logger``) that has cached its bound
    logger (``cache_logger_on_first_use``: structlog then replaces the proxy's ``bind``)
    gives that same logger on every later access, while each attribute access on the
    proxy goes through its ``__getattr__`` and ``bind()``. A proxy that does not cache
    is not final: it is asked again next time. Any other logger is itself."""
    if type(logger) is not _LAZY_PROXY:
        return logger, True
    bound = logger.bind()
    return bound, "bind" in vars(logger)
