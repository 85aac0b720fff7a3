"""Telemetry unconfigured: quiet on success, loud on failure, and cheap without an SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog
from opentelemetry.trace import NoOpTracerProvider
from prometheus_client import CollectorRegistry
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import random_hashes
from token_blacklist import TokenBlacklist
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture


@contextmanager
def unconfigured_structlog() -> Iterator[None]:
    was_configured = structlog.is_configured()
    old = structlog.get_config()
    structlog.reset_defaults()
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**old)
        else:
            structlog.reset_defaults()


def test_success_prints_nothing_failure_prints_an_error(
    redis_server: RedisServer, make_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    down = make_server()
    down.stop()
    with unconfigured_structlog():
        ok = TokenBlacklist(redis_server.client(), registry=CollectorRegistry())
        assert ok.blacklist_tokens(random_hashes(2), 60).ok
        assert capsys.readouterr().out == "", "a debug event reached unconfigured stdout"

        client = down.client(retry=Retry(NoBackoff(), 0))
        failing = TokenBlacklist(client, registry=CollectorRegistry())
        assert failing.blacklist_tokens(random_hashes(2), 60).failed == 2
        assert "token_blacklist.failure" in capsys.readouterr().out


def test_without_an_sdk_events_carry_the_callers_ids_and_its_span_is_untouched(
    redis_server: RedisServer,
) -> None:
    """No provider behind the library's tracer: no span of its own, but its events still
    carry the current trace ids, and the caller's span gets no attribute from the call."""
    capture = TelemetryCapture()
    app_tracer = capture.tracer_provider.get_tracer("app")  # the application's own SDK
    blacklist = TokenBlacklist(
        redis_server.client(),
        registry=capture.registry,
        tracer_provider=NoOpTracerProvider(),
        logger=capture.logger,
    )
    with app_tracer.start_as_current_span("request") as request:
        result = blacklist.blacklist_tokens(random_hashes(2), 60)
    assert result.ok
    (event,) = capture.events("token_blacklist.blacklisted")
    assert event["trace_id"] == format(request.get_span_context().trace_id, "032x")
    assert event["span_id"] == format(request.get_span_context().span_id, "016x")
    (finished,) = capture.spans()
    assert finished.name == "request" and not dict(finished.attributes or {})
