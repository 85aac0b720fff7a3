"""The two telemetry configurations the bench compares against a bare redis-py baseline.

The bench is an application: it may build SDK objects and structlog loggers for itself.
It never configures global state, so case (c) really runs with nothing configured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import structlog
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

__all__ = [
    "FULL",
    "UNCONFIGURED",
    "NullSpanExporter",
    "client_kwargs",
    "json_logger",
    "register_provider",
    "sdk_provider",
    "shutdown",
]

FULL = "full"
UNCONFIGURED = "unconfigured"


class NullSpanExporter(SpanExporter):
    """Accepts every span and drops it: the export cost without a collector."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


_providers: list[TracerProvider] = []


def register_provider(provider: TracerProvider) -> None:
    """Shut ``provider`` down (its batch thread) in :func:`shutdown`."""
    _providers.append(provider)


def sdk_provider() -> TracerProvider:
    """An SDK provider that samples every root span, exported in batches to nowhere."""
    provider = TracerProvider()  # default sampler: every root span is sampled
    provider.add_span_processor(BatchSpanProcessor(NullSpanExporter()))
    register_provider(provider)
    return provider


def json_logger() -> Any:
    """A structlog logger as applications configure one: JSON lines at info and up."""
    null_sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the logger
    return structlog.wrap_logger(
        structlog.PrintLogger(null_sink),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def _full_telemetry() -> dict[str, Any]:
    return {
        "registry": CollectorRegistry(),
        "tracer_provider": sdk_provider(),
        "logger": json_logger(),
    }


def client_kwargs(setup: str) -> dict[str, Any]:
    """Keyword arguments for a client: live telemetry, or nothing (the global defaults)."""
    return _full_telemetry() if setup == FULL else {}


def shutdown() -> None:
    """Flush and stop the batch processors' threads."""
    while _providers:
        _providers.pop().shutdown()
