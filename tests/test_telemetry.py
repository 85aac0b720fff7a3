"""The telemetry point: trace context, exemplars, shared registries, library manners."""

from __future__ import annotations

import logging

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

from assertions import random_hashes
from token_blacklist import AsyncTokenBlacklist, TokenBlacklist, add_trace_context
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture


def test_span_is_a_child_of_the_request_span(redis_server: RedisServer, admin):
    capture = TelemetryCapture()
    tracer = capture.tracer_provider.get_tracer("app")
    blacklist = TokenBlacklist(redis_server.client(), **capture.kwargs())
    with tracer.start_as_current_span("POST /logout") as request_span:
        blacklist.blacklist_tokens(random_hashes(2), 60)
    [span] = capture.spans("token_blacklist.blacklist_tokens")
    assert span.parent is not None
    assert span.parent.span_id == request_span.get_span_context().span_id
    assert span.context.trace_id == request_span.get_span_context().trace_id
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == redis_server.port
    [event] = capture.events("token_blacklist.blacklisted")
    assert event["trace_id"] == format(span.context.trace_id, "032x")


def test_exemplar_carries_the_trace_id_when_sampled(redis_server: RedisServer, admin):
    capture = TelemetryCapture()
    blacklist = TokenBlacklist(redis_server.client(), **capture.kwargs())
    blacklist.blacklist_tokens(random_hashes(2), 60)
    [span] = capture.spans("token_blacklist.blacklist_tokens")
    exposition = openmetrics(capture.registry).decode()
    trace_id = format(span.context.trace_id, "032x")
    assert f'# {{trace_id="{trace_id}"}}' in exposition


def test_no_exemplar_when_not_sampled(redis_server: RedisServer, admin):
    registry = CollectorRegistry()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    blacklist = TokenBlacklist(redis_server.client(), registry=registry, tracer_provider=provider)
    blacklist.blacklist_tokens(random_hashes(2), 60)
    assert "trace_id" not in openmetrics(registry).decode()
    assert registry.get_sample_value("token_blacklist_tokens_total", {"outcome": "succeeded"}) == 2


async def test_sync_and_async_clients_share_a_registry(redis_server: RedisServer, admin):
    registry = CollectorRegistry()
    TokenBlacklist(redis_server.client(), registry=registry).blacklist_tokens(random_hashes(2), 60)
    client = redis_server.async_client()
    await AsyncTokenBlacklist(client, registry=registry).blacklist_tokens(random_hashes(3), 60)
    await client.aclose()
    assert registry.get_sample_value("token_blacklist_tokens_total", {"outcome": "succeeded"}) == 5
    assert (
        registry.get_sample_value(
            "token_blacklist_operations_total", {"operation": "blacklist", "outcome": "success"}
        )
        == 2
    )


def test_every_series_exists_before_traffic():
    """Pre-created children: rate() and absent() work from the first scrape."""
    capture = TelemetryCapture()
    TokenBlacklist.__new__(TokenBlacklist)  # nothing registered yet
    from token_blacklist._observability.metrics import metrics_for

    metrics_for(capture.registry)
    names = {m.name for m in capture.registry.collect()}
    assert {
        "token_blacklist_tokens",
        "token_blacklist_token_failures",
        "token_blacklist_operations",
        "token_blacklist_operation_duration_seconds",
        "token_blacklist_batch_size",
        "token_blacklist_checks",
    } <= names
    assert (
        capture.registry.get_sample_value(
            "token_blacklist_token_failures_total", {"reason": "cluster_down"}
        )
        == 0
    )


def test_library_configures_nothing_global(redis_server: RedisServer, admin):
    root_handlers = list(logging.getLogger().handlers)
    was_configured = structlog.is_configured()
    TokenBlacklist(redis_server.client(), registry=CollectorRegistry()).blacklist_tokens(
        random_hashes(1), 60
    )
    assert structlog.is_configured() == was_configured
    assert logging.getLogger().handlers == root_handlers


def test_add_trace_context_processor():
    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    assert add_trace_context(None, "info", {"event": "x"}) == {"event": "x"}
    with tracer.start_as_current_span("s") as span:
        event = add_trace_context(None, "info", {"event": "x"})
    context = span.get_span_context()
    assert event["trace_id"] == format(context.trace_id, "032x")
    assert event["span_id"] == format(context.span_id, "016x")


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_injected_logger_level_is_respected(redis_server: RedisServer, admin, level):
    seen: list[str] = []

    def record(logger, method, event_dict):
        seen.append(event_dict["event"])
        raise structlog.DropEvent

    logger = structlog.wrap_logger(
        None, processors=[record], wrapper_class=structlog.make_filtering_bound_logger(level)
    )
    TokenBlacklist(
        redis_server.client(), registry=CollectorRegistry(), logger=logger
    ).blacklist_tokens(random_hashes(1), 60)
    assert seen == (["token_blacklist.blacklisted"] if level == logging.DEBUG else [])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fast_path_round_trips_are_client_spans(make_server, mode):
    """redis-py's instrumentation cannot see the fast path: the library traces each round
    trip itself, and marks a lost one with its reason, never with a key or message."""
    from assertions import round_trip_spans
    from conftest import Harness

    capture = TelemetryCapture()
    harness = Harness(mode, capture)
    server = make_server()
    hashes = random_hashes(5)
    tracer = capture.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request"):
        written = harness.blacklist(server, hashes, chunk_size=2)  # trace_round_trips=True
    assert written.ok and written.round_trips == 3
    spans = sorted(round_trip_spans(capture), key=lambda s: s.start_time or 0)
    assert [s.name for s in spans] == ["BATCH SET", "BATCH SET", "SET"]
    assert [s.attributes.get("db.operation.batch.size") for s in spans] == [2, 2, None]
    [call] = capture.spans("token_blacklist.blacklist_tokens")
    assert {s.parent.span_id for s in spans} == {call.context.span_id}
    assert all(s.attributes["server.port"] == server.port for s in spans)

    server.stop()
    capture.clear()
    lost = harness.blacklist(server, hashes, chunk_size=2, retries=0)
    assert lost.failed == 5 and lost.round_trips >= 1
    spans = round_trip_spans(capture)
    assert len(spans) == lost.round_trips
    for span in spans:
        assert span.status.status_code.name == "ERROR"
        assert span.attributes["error.type"] == "connection"
        assert span.status.description == "connection"
        assert not any(h in str(dict(span.attributes)) for h in hashes)


def test_untraced_calls_make_no_round_trip_spans(redis_server: RedisServer, admin):
    """Sampled out: no span is made for the round trips either."""
    provider = TracerProvider(sampler=ALWAYS_OFF)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    blacklist = TokenBlacklist(redis_server.client(), tracer_provider=provider)
    assert blacklist.blacklist_tokens(random_hashes(3), 60).ok
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize("mode", ["auto", False])
def test_round_trip_spans_only_when_asked(redis_server: RedisServer, admin, mode):
    """By default ("auto") the fast path's Redis spans come only while redis-py itself is
    traced by opentelemetry-instrumentation-redis: here it is not."""
    from assertions import round_trip_spans

    capture = TelemetryCapture()
    blacklist = TokenBlacklist(redis_server.client(), **capture.kwargs(), trace_round_trips=mode)
    assert blacklist.blacklist_tokens(random_hashes(3), 60).ok
    assert len(capture.spans("token_blacklist.blacklist_tokens")) == 1
    assert round_trip_spans(capture) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_round_trip_spans_follow_redis_instrumentation(redis_server: RedisServer, admin, mode):
    """ "auto": once the client is instrumented (even after the blacklist was built), the
    fast path's round trips are traced as the pipeline path's would be."""
    import asyncio

    from opentelemetry.instrumentation.redis import RedisInstrumentor

    from assertions import round_trip_spans

    capture = TelemetryCapture()
    hashes = random_hashes(3)

    async def run_async() -> None:
        client = redis_server.async_client()
        blacklist = AsyncTokenBlacklist(client, **capture.kwargs())
        assert (await blacklist.blacklist_tokens(hashes[:1], 60)).ok
        RedisInstrumentor.instrument_client(client, tracer_provider=capture.tracer_provider)
        assert (await blacklist.blacklist_tokens(hashes[1:], 60)).ok
        await client.aclose()

    if mode == "sync":
        client = redis_server.client()
        blacklist = TokenBlacklist(client, **capture.kwargs())
        assert blacklist.blacklist_tokens(hashes[:1], 60).ok
        RedisInstrumentor.instrument_client(client, tracer_provider=capture.tracer_provider)
        assert blacklist.blacklist_tokens(hashes[1:], 60).ok
    else:
        asyncio.run(run_async())
    calls = capture.spans("token_blacklist.blacklist_tokens")
    assert len(calls) == 2
    [span] = round_trip_spans(capture)
    assert span.name == "BATCH SET" and span.attributes["db.operation.batch.size"] == 2
    assert span.parent is not None and span.parent.span_id == calls[1].context.span_id


def test_round_trip_tracing_is_validated(redis_server: RedisServer):
    with pytest.raises(ValueError, match="trace_round_trips"):
        TokenBlacklist(redis_server.client(), trace_round_trips="yes")  # type: ignore[arg-type]
