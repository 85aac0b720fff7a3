"""revoke_all ("log out everywhere") under real faults, sync and async shells.

Each case injects a fault the way production meets it (maxmemory, a replica, a cut TCP
connection, a SIGSTOPped server) and checks that the RevokeAllResult tells the truth
about what Redis holds, and that metrics, span and log event say the same without ever
naming the subject.

The contract (RevokeAllResult, README "Log out everywhere"): ``ok`` means Redis
acknowledged the not-before script (one atomic EVAL), so the stored not-before is at
least ``not_before``.
A failure says the not-before is *not confirmed*: when the round trip itself was lost
after Redis applied it (reply cut, paused server that wakes up), it may be in place; when
Redis answered with an error (OOM, READONLY), it is not. ``ok`` therefore implies the
not-before is stored in every case, and the converse holds whenever Redis answered.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from opentelemetry.trace import SpanKind, StatusCode
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import PREFIX
from conftest import Harness
from faults import CuttingProxy
from token_blacklist import FailureReason
from token_blacklist._core.commands import SetNotBefore, pack_command
from token_blacklist._core.subjects import plan_revoke_all
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

NO_CLIENT_RETRY = {"retry": Retry(NoBackoff(), 0)}
TTL = 600
OPS = "token_blacklist_operations_total"
EVENTS = {
    "token_blacklist.subject_revoked": "info",
    "token_blacklist.revoke_all_failed": "error",
}


@pytest.fixture
def subject() -> str:
    """A user id unique to the test: a needle for the "never logged" checks."""
    return f"user-{secrets.token_hex(6)}@example.com"


def nbf_key(subject: str) -> str:
    return f"{PREFIX}:nbf:{hashlib.sha256(subject.encode()).hexdigest()}"


def stored_not_before(admin: redis.Redis, subject: str) -> float | None:
    value = admin.zscore(nbf_key(subject), "nbf")
    return None if value is None else float(value)


def request_bytes(subject: str) -> int:
    """Length of the request: the one ``EVAL`` of the not-before script (its numbers, a
    10-digit not-before and a 3-digit life, have the same width for the whole test)."""
    plan = plan_revoke_all(f"{PREFIX}:", subject, TTL, now=time.time(), clock_skew=1.0)
    (command,) = SetNotBefore(plan.key, plan.not_before, plan.expire_seconds).args()
    return len(pack_command(*command))


def assert_result_agrees_with_redis(
    result: Any, admin: redis.Redis, subject: str, *, exact: bool
) -> float | None:
    """``ok`` implies the not-before is stored (at least ``not_before``, for the asked life);
    with ``exact`` (Redis answered, or the lost attempt never reached it) the converse
    holds too: not ok implies no not-before of that value. Returns the stored value."""
    stored = stored_not_before(admin, subject)
    holds = stored is not None and stored >= result.not_before
    if result.ok:
        assert holds, f"reported ok, Redis holds {stored!r}"
        assert stored == result.not_before  # a fresh subject: nothing larger was there
        # ttl + how far not_before is ahead of now (at most clock_skew + 1 s)
        assert TTL - 5 < admin.ttl(nbf_key(subject)) <= TTL + 2
    if exact:
        assert result.ok == holds, f"ok={result.ok}, Redis holds {stored!r}"
    return stored


def assert_telemetry(capture: TelemetryCapture, result: Any, subject: str) -> None:
    """Exactly one revoke_all: metric, span and log event agree with the result, and the
    subject (or its hash, which is the key) is nowhere."""
    outcome = "success" if result.ok else "failure"
    for other in ("success", "failure", "partial", "rejected"):
        expected = 1 if other == outcome else 0
        assert capture.sample(OPS, operation="revoke_all", outcome=other) == expected, other
    duration = "token_blacklist_operation_duration_seconds_count"
    assert capture.sample(duration, operation="revoke_all") == 1

    # The not-before goes through a redis-py pipeline: no round-trip span of the library's.
    spans = capture.spans()
    assert [s.name for s in spans] == ["token_blacklist.revoke_all"]
    span = spans[0]
    assert span.kind is SpanKind.INTERNAL
    attributes = dict(span.attributes or {})
    assert attributes["db.system.name"] == "redis"
    assert attributes["token_blacklist.not_before"] == result.not_before
    assert attributes["token_blacklist.round_trips"] == result.round_trips
    assert not span.events  # nothing crashed: no exception event (its text could leak)
    if result.ok:
        assert result.reason is None
        assert span.status.status_code is StatusCode.UNSET
        assert "error.type" not in attributes
    else:
        assert isinstance(result.reason, FailureReason)
        assert attributes["error.type"] == result.reason.value
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == f"not-before not confirmed ({result.reason.value})"

    assert len(capture.logs) == 1, capture.logs  # no other event of any kind
    (event,) = capture.logs
    name = "token_blacklist.subject_revoked" if result.ok else "token_blacklist.revoke_all_failed"
    assert event["event"] == name
    assert event["log_level"] == EVENTS[name]
    assert event["not_before"] == result.not_before
    assert event["round_trips"] == result.round_trips
    assert event["duration_ms"] >= 0
    assert event["trace_id"] == format(span.context.trace_id, "032x")
    assert event["span_id"] == format(span.context.span_id, "016x")
    if result.ok:
        assert "reason" not in event
    else:
        assert event["reason"] == result.reason.value

    blob = json.dumps(
        [
            capture.logs,
            [
                [s.name, dict(s.attributes or {}), s.status.description, list(s.events)]
                for s in spans
            ],
            result.describe(),
            repr(result),
        ],
        default=str,
    )
    assert subject not in blob
    assert hashlib.sha256(subject.encode()).hexdigest() not in blob


# -- (1) OOM -------------------------------------------------------------------------------


@pytest.fixture
def oom_server(make_server: Any) -> Iterator[tuple[RedisServer, redis.Redis]]:
    """A server already over a 1-byte maxmemory with noeviction: every write command
    flagged ``denyoom`` (ZADD) is answered ``-OOM``; reads and EXPIRE still run."""
    server = make_server({"maxmemory-policy": "noeviction"})
    admin = server.client()
    yield server, admin
    admin.close()


def set_tiny_maxmemory(admin: redis.Redis) -> None:
    admin.config_set("maxmemory", 1)


def test_oom_is_reported_and_nothing_is_stored(
    harness: Harness, oom_server: tuple[RedisServer, redis.Redis], subject: str
) -> None:
    server, admin = oom_server
    set_tiny_maxmemory(admin)
    result = harness.call(server, "revoke_all", subject, TTL)

    assert not result.ok
    assert result.reason is FailureReason.OOM
    assert result.round_trips == 1, "OOM is final: no re-send"
    assert admin.exists(nbf_key(subject)) == 0
    admin.config_set("maxmemory", 0)
    assert_result_agrees_with_redis(result, admin, subject, exact=True)
    assert_telemetry(harness.capture, result, subject)


def test_oom_keeps_an_older_not_before_and_says_so(
    harness: Harness, oom_server: tuple[RedisServer, redis.Redis], subject: str
) -> None:
    """A subject revoked before: the refused ZADD leaves the older, lower not-before in
    place, and the result does not claim the newer one."""
    server, admin = oom_server
    older = int(time.time()) - 100
    admin.zadd(nbf_key(subject), {"nbf": older})
    admin.expire(nbf_key(subject), 60)
    set_tiny_maxmemory(admin)
    result = harness.call(server, "revoke_all", subject, TTL)

    assert not result.ok and result.reason is FailureReason.OOM
    assert result.not_before > older
    assert stored_not_before(admin, subject) == older
    assert_result_agrees_with_redis(result, admin, subject, exact=True)
    assert_telemetry(harness.capture, result, subject)


# -- (2) READONLY --------------------------------------------------------------------------


def test_readonly_replica_is_reported_and_holds_nothing(
    harness: Harness,
    replica_server: RedisServer,
    admin: redis.Redis,
    subject: str,
) -> None:
    result = harness.call(replica_server, "revoke_all", subject, TTL, retries=2, retry_backoff=0.01)

    assert not result.ok
    assert result.reason is FailureReason.READONLY
    assert result.round_trips == 3, "READONLY may be a failover in flight: re-sent twice"
    replica = replica_server.client()
    try:
        assert replica.exists(nbf_key(subject)) == 0
        assert_result_agrees_with_redis(result, replica, subject, exact=True)
    finally:
        replica.close()
    assert admin.exists(nbf_key(subject)) == 0  # nor the primary
    assert_telemetry(harness.capture, result, subject)


# -- (3) connection cut mid-pipeline -------------------------------------------------------


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[CuttingProxy]:
    hop = CuttingProxy(redis_server.host, redis_server.port)
    yield hop
    hop.close()


# (what is cut, module retries, expected ok, expected stored?, exact?)
CUTS = {
    # Redis ran the script; its reply (":1\r\n") is cut after 2 of its 4 bytes.
    "reply-no-retry": ("reply", 0, False, True, False),
    "reply-resent": ("reply", 1, True, True, True),
    # The request is cut half-way, or one byte short: Redis never ran anything (one
    # command, one script: there is no cut between the ZADD and the EXPIREs any more).
    "request-half-no-retry": ("half", 0, False, False, True),
    "request-half-resent": ("half", 1, True, True, True),
    "request-last-byte-no-retry": ("last_byte", 0, False, False, True),
    "request-last-byte-resent": ("last_byte", 1, True, True, True),
}


@pytest.mark.parametrize("case", list(CUTS))
def test_connection_cut_mid_pipeline(
    harness: Harness, proxy: CuttingProxy, admin: redis.Redis, subject: str, case: str
) -> None:
    where, retries, expect_ok, expect_stored, exact = CUTS[case]
    cut = {
        "reply": {"reply_bytes": 2},
        "half": {"request_bytes": request_bytes(subject) // 2},
        "last_byte": {"request_bytes": request_bytes(subject) - 1},
    }[where]
    result = harness.call(
        proxy,
        "revoke_all",
        subject,
        TTL,
        client_kwargs=NO_CLIENT_RETRY,
        retries=retries,
        retry_backoff=0.0,
        before=lambda: proxy.arm(**cut),
    )

    assert proxy.cuts == 1
    assert result.ok is expect_ok
    assert result.round_trips == 1 + retries
    if not expect_ok:
        assert result.reason is FailureReason.CONNECTION
    stored = assert_result_agrees_with_redis(result, admin, subject, exact=exact)
    assert stored == (result.not_before if expect_stored else None)
    assert_telemetry(harness.capture, result, subject)


def revoke_all_cut(harness: Harness, proxy: CuttingProxy, subject: str, **cut: int) -> Any:
    """One attempt, no re-send, whose request or reply the proxy cuts."""
    return harness.call(
        proxy,
        "revoke_all",
        subject,
        TTL,
        client_kwargs=NO_CLIENT_RETRY,
        retries=0,
        before=lambda: proxy.arm(**cut),
    )


def test_cut_one_byte_short_reports_failure_and_holds_nothing(
    harness: Harness, proxy: CuttingProxy, admin: redis.Redis, subject: str
) -> None:
    """The last byte of the script's EVAL never arrives: Redis ran nothing, and the call
    says it is not confirmed; re-sending (as the result advises) confirms it."""
    result = revoke_all_cut(harness, proxy, subject, request_bytes=request_bytes(subject) - 1)
    assert proxy.cuts == 1
    assert not result.ok and result.reason is FailureReason.CONNECTION
    assert result.round_trips == 1
    assert assert_result_agrees_with_redis(result, admin, subject, exact=True) is None
    assert_telemetry(harness.capture, result, subject)
    harness.capture.clear()
    again = harness.call(proxy, "revoke_all", subject, TTL)  # the proxy cuts only once
    assert again.ok
    assert stored_not_before(admin, subject) == again.not_before
    assert TTL - 5 < admin.ttl(nbf_key(subject)) <= TTL + 2


@pytest.mark.parametrize("where", ["request-1", "request-half", "request-last", "reply-2"])
def test_unconfirmed_not_before_never_outlives_its_ttl(
    harness: Harness, proxy: CuttingProxy, admin: redis.Redis, subject: str, where: str
) -> None:
    """Wherever the round trip is cut, the not-before is either absent or has its expiry
    (it was the known defect of three separate commands: a cut after ZADD left it forever)."""
    size = request_bytes(subject)
    cut = {
        "request-1": {"request_bytes": 1},
        "request-half": {"request_bytes": size // 2},
        "request-last": {"request_bytes": size - 1},
        "reply-2": {"reply_bytes": 2},
    }[where]
    result = revoke_all_cut(harness, proxy, subject, **cut)
    assert proxy.cuts == 1
    assert not result.ok and result.reason is FailureReason.CONNECTION
    stored = stored_not_before(admin, subject)
    if where.startswith("request"):
        assert stored is None
    else:
        assert stored == result.not_before
        assert TTL - 5 < admin.ttl(nbf_key(subject)) <= TTL + 2


# -- (4) paused server ---------------------------------------------------------------------


@pytest.mark.slow
def test_paused_server_times_out(harness: Harness, make_server: Any, subject: str) -> None:
    server = make_server()
    admin = server.client()
    try:
        result = harness.call(
            server,
            "revoke_all",
            subject,
            TTL,
            client_kwargs={**NO_CLIENT_RETRY, "socket_timeout": 0.2},
            retries=1,
            retry_backoff=0.0,
            before=server.pause,  # after the client's PING: the pipeline sits in Redis' buffer
        )
    finally:
        server.resume()

    assert not result.ok
    assert result.reason is FailureReason.TIMEOUT
    assert result.round_trips == 2, "one re-send, then the call gives up"
    # As for blacklist_tokens: the server applies what sat in its input buffer once it
    # wakes up, so a timed-out call is a lower bound only, never a claim of absence.
    deadline = time.monotonic() + 2.0
    stored = stored_not_before(admin, subject)
    while stored is None and time.monotonic() < deadline:
        time.sleep(0.02)
        stored = stored_not_before(admin, subject)
    assert stored == result.not_before, "the first attempt's pipeline was in Redis' buffer"
    assert TTL - 5 < admin.ttl(nbf_key(subject)) <= TTL + 2  # all three commands landed
    assert_result_agrees_with_redis(result, admin, subject, exact=False)
    assert_telemetry(harness.capture, result, subject)
    admin.close()
