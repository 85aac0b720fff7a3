"""Fixtures of the web tests: telemetry capture and Redis instrumentation per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.instrumentation.redis import RedisInstrumentor

from .app_harness import WebCapture, example


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


@pytest.fixture
def tokens() -> Any:
    return example.Tokens()
