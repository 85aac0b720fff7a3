"""What every failure-mode test checks: the result equals Redis, and telemetry equals it."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import redis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from token_blacklist import BlacklistResult, FailureReason
from token_blacklist.testing import TelemetryCapture

PREFIX = "token_blacklist"
BLACKLIST_EVENTS = {
    "token_blacklist.blacklisted": "debug",
    "token_blacklist.partial_failure": "warning",
    "token_blacklist.failure": "error",
}


def random_hashes(count: int, *, first: str = "") -> list[str]:
    """Distinct 64-hex-character hashes, optionally all starting with ``first``."""
    return [first + secrets.token_hex(32)[len(first) :] for _ in range(count)]


def held(admin: redis.Redis, hashes: Iterable[str], prefix: str = PREFIX) -> set[str]:
    """The hashes whose key Redis holds now."""
    hashes = list(dict.fromkeys(hashes))
    pipe = admin.pipeline(transaction=False)
    for token_hash in hashes:
        pipe.exists(f"{prefix}:{token_hash}")
    return {h for h, found in zip(hashes, pipe.execute(), strict=True) if found}


def error_count(node_admin: redis.Redis, code: str) -> int:
    """How many error replies of ``code`` (``ASK``, ``READONLY``...) the server has sent,
    from ``INFO errorstats`` (redis-py 5.x leaves ``count=3`` unparsed, 6+ makes a dict)."""
    entry = node_admin.info("errorstats").get(f"errorstat_{code}", {})
    if isinstance(entry, str):
        entry = dict(field.split("=", 1) for field in entry.split(","))
    return int(entry.get("count", 0)) if isinstance(entry, dict) else 0


def assert_matches_redis(
    result: BlacklistResult, hashes: Iterable[str], admin: redis.Redis, *, exact: bool = True
) -> None:
    """Succeeded are exactly the held keys (or, when not ``exact``, a subset of them)."""
    distinct = list(dict.fromkeys(hashes))
    in_redis = held(admin, distinct)
    confirmed = set(distinct) - set(result.failures)
    assert result.requested == len(distinct)
    assert result.succeeded == len(confirmed)
    assert set(result.failures) <= set(distinct)
    assert confirmed <= in_redis, "a token reported blacklisted is not in Redis"
    if exact:
        assert confirmed == in_redis, "Redis holds tokens the result reports as failed"


def assert_telemetry_matches(capture: TelemetryCapture, result: BlacklistResult) -> None:
    """Metrics, span and log event of exactly one blacklist call agree with ``result``."""
    sample = capture.sample
    assert sample("token_blacklist_tokens_total", outcome="succeeded") == result.succeeded
    assert sample("token_blacklist_tokens_total", outcome="failed") == result.failed
    for reason, count in result.reasons.items():
        assert sample("token_blacklist_token_failures_total", reason=reason.value) == count
    total_failures = sum(
        capture.registry.get_sample_value("token_blacklist_token_failures_total", {"reason": r})
        or 0.0
        for r in [
            "oom", "noperm", "readonly", "auth", "connection", "timeout",
            "cluster_down", "unavailable", "other",
        ]
    )  # fmt: skip
    assert total_failures == result.failed
    outcome = "success" if result.ok else ("failure" if result.succeeded == 0 else "partial")
    assert sample("token_blacklist_operations_total", operation="blacklist", outcome=outcome) == 1
    assert sample("token_blacklist_batch_size_count") == 1
    assert sample("token_blacklist_batch_size_sum") == result.requested
    assert sample("token_blacklist_operation_duration_seconds_count", operation="blacklist") == 1

    spans = capture.spans("token_blacklist.blacklist_tokens")
    assert len(spans) == 1
    span = spans[0]
    attributes = dict(span.attributes or {})
    assert attributes["token_blacklist.requested"] == result.requested
    assert attributes["token_blacklist.succeeded"] == result.succeeded
    assert attributes["token_blacklist.failed"] == result.failed
    assert attributes["token_blacklist.chunks"] == result.chunks
    assert attributes["db.system.name"] == "redis"
    for reason, count in result.reasons.items():
        assert attributes[f"token_blacklist.failures.{reason.value}"] == count
    if result.ok:
        assert span.status.status_code is StatusCode.UNSET
        assert "error.type" not in attributes
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == result.describe()
        assert attributes["error.type"] == result.dominant_reason

    assert_round_trip_spans(capture, span, result.round_trips)

    events = [e for e in capture.logs if e["event"] in BLACKLIST_EVENTS]
    assert len(events) == 1
    event = events[0]
    expected_event = {
        "success": "token_blacklist.blacklisted",
        "partial": "token_blacklist.partial_failure",
        "failure": "token_blacklist.failure",
    }[outcome]
    assert event["event"] == expected_event
    assert event["log_level"] == BLACKLIST_EVENTS[expected_event]
    assert event["requested"] == result.requested
    assert event["succeeded"] == result.succeeded
    assert event["failed"] == result.failed
    assert event["reasons"] == {r.value: c for r, c in result.reasons.items()}
    assert event["duration_ms"] >= 0
    assert event["trace_id"] == format(span.context.trace_id, "032x")
    assert event["span_id"] == format(span.context.span_id, "016x")


def round_trip_spans(capture: TelemetryCapture) -> list[ReadableSpan]:
    """The library's own Redis spans (the fast path's round trips)."""
    return [
        s
        for s in capture.spans()
        if s.kind is SpanKind.CLIENT
        and s.instrumentation_scope is not None
        and s.instrumentation_scope.name == "token_blacklist"
    ]


def assert_round_trip_spans(
    capture: TelemetryCapture, call: ReadableSpan, round_trips: int
) -> None:
    """The fast path traces each round trip under the call's span; a lost one is marked
    with its reason. The pipeline path has none of its own (redis-py's instrumentation,
    when installed, traces it)."""
    spans = round_trip_spans(capture)
    if not spans:
        return
    assert len(spans) == round_trips
    reasons = {r.value for r in FailureReason}
    for span in spans:
        assert span.parent is not None and span.parent.span_id == call.context.span_id
        attributes = dict(span.attributes or {})
        assert attributes["db.system.name"] == "redis"
        assert span.name == attributes["db.operation.name"]
        # BATCH: the EXPIRE GT + SET NX of re-revoked hashes (see ExtendTokens)
        assert span.name in ("SET", "BATCH SET", "BATCH")
        if span.status.status_code is StatusCode.ERROR:
            assert attributes["error.type"] in reasons
        else:
            assert "error.type" not in attributes
