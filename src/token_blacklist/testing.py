"""Test helpers: capture everything one client emits, without touching global state.

Needs ``opentelemetry-sdk`` (the ``test`` or ``cli`` extra); the library itself does not.

    capture = TelemetryCapture()
    bl = TokenBlacklist(client, **capture.kwargs())
    result = bl.blacklist_tokens(hashes, ttl=60)
    assert capture.sample("token_blacklist_tokens_total", outcome="failed") == result.failed
    assert capture.events("token_blacklist.partial_failure")
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

try:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        "token_blacklist.testing needs opentelemetry-sdk: pip install 'token-blacklist[test]'"
    ) from missing

__all__ = ["TelemetryCapture"]


class TelemetryCapture:
    """A fresh registry, an SDK tracer provider with an in-memory exporter, and a logger
    that records every event (debug included) as a dict."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = SdkTracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.logs: list[dict[str, Any]] = []
        self.logger = structlog.wrap_logger(
            None,
            processors=[self._record],
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
            cache_logger_on_first_use=False,
        )

    def _record(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        self.logs.append({"log_level": method_name, **event_dict})
        raise structlog.DropEvent

    def kwargs(self) -> dict[str, Any]:
        """``registry=``, ``tracer_provider=`` and ``logger=`` for a client."""
        return {
            "registry": self.registry,
            "tracer_provider": self.tracer_provider,
            "logger": self.logger,
        }

    def sample(self, name: str, **labels: str) -> float:
        """A sample's value (0.0 when the series does not exist)."""
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans, oldest first, optionally only those called ``name``."""
        finished = list(self.exporter.get_finished_spans())
        return [s for s in finished if name is None or s.name == name]

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        """Captured log events, optionally only those named ``event``."""
        return [e for e in self.logs if event is None or e.get("event") == event]

    def clear(self) -> None:
        """Forget spans and log events (metrics are cumulative by nature)."""
        self.exporter.clear()
        self.logs.clear()
