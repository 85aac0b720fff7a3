"""The fixtures every web framework's tests share (FastAPI's here, Flask's, Django's): a
telemetry capture per test, and redis-py instrumented into it for one test only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.instrumentation.redis import RedisInstrumentor

from web.app_harness import WebCapture

__all__ = ["redis_spans", "web_capture"]


@pytest.fixture
def web_capture() -> WebCapture:
    return WebCapture()


@pytest.fixture
def redis_spans(web_capture: WebCapture) -> Iterator[None]:
    """opentelemetry-instrumentation-redis patches redis-py process-wide: only for the
    duration of one test, and into this test's own provider."""
    RedisInstrumentor().instrument(tracer_provider=web_capture.tracer_provider)
    yield
    RedisInstrumentor().uninstrument()
