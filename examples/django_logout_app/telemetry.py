"""Logging and tracing of the example, set up once by each entry point: structlog JSON
lines carrying the trace id (``add_trace_context``), Django and redis-py instrumented."""

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor

from token_blacklist import add_trace_context


def setup(tracer_provider: Any = None, *, level: int = logging.INFO) -> None:
    """``tracer_provider``: where spans go (default: an SDK provider printing them to
    stderr), installed as the global one; ``level``: the library logs each confirmed
    revocation at DEBUG. Call before Django loads its middleware."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            add_trace_context,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
    )
    if tracer_provider is None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    trace.set_tracer_provider(tracer_provider)  # the library's spans go there too
    DjangoInstrumentor().instrument(tracer_provider=tracer_provider)
    RedisInstrumentor().instrument(tracer_provider=tracer_provider)
