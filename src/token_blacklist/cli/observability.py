"""Logging and tracing set-up for the command (an application may configure them).

Logs are JSON lines carrying the trace ids of the current span. Traces go to OTLP/HTTP
when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set,
otherwise to a console exporter writing one compact JSON object per span to ``console``
(or nowhere when ``console`` is None).
"""

from __future__ import annotations

import logging
import os
from typing import IO, Any, TextIO

import structlog
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from .. import __about__
from .._observability.log_context import add_trace_context

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "add_log_options",
    "command_logger",
    "configure_logging",
    "otlp_configured",
    "tracer_provider",
]

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("none", "json", "console")


class SilentLogger:
    """A structlog-style logger that emits nothing and says so (``is_enabled_for``), so the
    library does not even build the events' fields."""

    def is_enabled_for(self, level: int) -> bool:
        return False

    def _drop(self, event: str | None = None, *args: Any, **fields: Any) -> None:
        return None

    debug = info = warning = warn = error = critical = exception = msg = _drop

    def bind(self, **fields: Any) -> SilentLogger:
        return self


def add_log_options(parser: Any, *, level: str = "warning") -> None:
    """``--log-format none|json|console`` (default none) and ``--log-level``."""
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="none",
        help="the library's log events on stderr: one JSON object a line, console lines, "
        "or none (default: %(default)s; the summary and progress are shown anyway)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=level)


def command_logger(stream: TextIO, log_format: str, level: str) -> Any:
    """A logger for the library as ``--log-format`` says; nothing global is configured."""
    if log_format == "none":
        return SilentLogger()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    return structlog.wrap_logger(
        structlog.PrintLogger(file=stream),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_trace_context,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_name="token_blacklist",
    )


def configure_logging(stream: TextIO, level: str) -> Any:
    """JSON lines on ``stream`` at ``level`` and up; returns a logger for the library."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_trace_context,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger("token_blacklist")


def otlp_configured() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _compact(span: ReadableSpan) -> str:
    text: str = span.to_json(indent=None)
    return text + "\n"


def tracer_provider(service: str, console: IO[str] | None) -> TracerProvider | None:
    """An SDK provider exporting to OTLP or to ``console``; None when neither applies."""
    if otlp_configured():
        # Imported here: the exporter pulls in protobuf and requests, only needed now.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter: Any = OTLPSpanExporter()
    elif console is not None:
        exporter = ConsoleSpanExporter(out=console, formatter=_compact)
    else:
        return None
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", service)}
        | {"service.version": __about__.__version__}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
