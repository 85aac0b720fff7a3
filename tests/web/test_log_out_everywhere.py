"""revoke_all ("log out everywhere"): the core against real Redis (sync and async shells),
and through two instances of the example app sharing one Redis."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from typing import Any

import pytest
import redis
from opentelemetry.trace import SpanKind, StatusCode
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from assertions import PREFIX
from conftest import PARTIAL_USER, Harness
from token_blacklist import (
    AsyncTokenBlacklist,
    FailureReason,
    InvalidTokenHash,
    TokenBlacklist,
    hash_token,
)
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

from .app_harness import WebCapture, bearer, example, running_app

PARTIAL = {"username": PARTIAL_USER[0], "password": PARTIAL_USER[1]}


def nbf_key(subject: str) -> str:
    return f"{PREFIX}:nbf:{hashlib.sha256(subject.encode()).hexdigest()}"


def stored_not_before(admin: redis.Redis, subject: str) -> float | None:
    return admin.zscore(nbf_key(subject), "nbf")


def assert_subject_absent(capture: TelemetryCapture, subject: str) -> None:
    blob = json.dumps(capture.logs, default=str) + json.dumps(
        [dict(s.attributes or {}) for s in capture.spans()], default=str
    )
    assert subject not in blob
    assert hashlib.sha256(subject.encode()).hexdigest() not in blob


def subject_check(
    harness: Harness, server: RedisServer, token_hash: str, subject: str, issued_at: float
) -> bool:
    """``is_blacklisted(..., subject=, issued_at=)`` through the harness's shell and transport
    (``Harness.call`` passes keywords to the constructor, not to the method)."""
    kwargs = {**harness.capture.kwargs(), "fast_path": harness.fast_path}
    if harness.mode == "sync":
        with server.client() as client:
            blacklist = TokenBlacklist(client, **kwargs)
            return blacklist.is_blacklisted(token_hash, subject=subject, issued_at=issued_at)

    async def run() -> bool:
        async with server.async_client() as client:
            blacklist = AsyncTokenBlacklist(client, **kwargs)
            return await blacklist.is_blacklisted(token_hash, subject=subject, issued_at=issued_at)

    return asyncio.run(run())


def test_revoke_all_result_equals_redis_and_telemetry(
    harness: Harness, redis_server: RedisServer, admin: redis.Redis
) -> None:
    before = time.time()
    result = harness.call(redis_server, "revoke_all", "user-7", 3600)
    capture = harness.capture

    assert result.ok and result.reason is None and result.round_trips == 1
    # ceil(now + 1 s of default clock skew)
    assert before + 1 <= result.not_before <= time.time() + 2
    assert stored_not_before(admin, "user-7") == result.not_before
    assert 3600 < admin.ttl(nbf_key("user-7")) <= 3600 + 3

    ops = "token_blacklist_operations_total"
    assert capture.sample(ops, operation="revoke_all", outcome="success") == 1
    assert capture.sample(ops, operation="revoke_all", outcome="failure") == 0
    duration = "token_blacklist_operation_duration_seconds_count"
    assert capture.sample(duration, operation="revoke_all") == 1
    (span,) = capture.spans("token_blacklist.revoke_all")
    assert dict(span.attributes or {})["token_blacklist.not_before"] == result.not_before
    assert span.status.status_code is StatusCode.UNSET
    (event,) = capture.events("token_blacklist.subject_revoked")
    assert event["log_level"] == "info" and event["not_before"] == result.not_before
    assert event["trace_id"] == format(span.context.trace_id, "032x")
    assert_subject_absent(capture, "user-7")


def test_revoke_all_failure_is_in_the_result(harness: Harness, acl_server: RedisServer) -> None:
    # The ACL user may not ZADD: NOPERM, final, nothing written.
    result = harness.call(acl_server, "revoke_all", "user-8", 60, client_kwargs=PARTIAL)
    capture = harness.capture

    assert not result.ok and result.reason is FailureReason.NOPERM
    assert result.round_trips == 1
    admin = acl_server.client()
    assert admin.exists(nbf_key("user-8")) == 0
    admin.close()
    ops = "token_blacklist_operations_total"
    assert capture.sample(ops, operation="revoke_all", outcome="failure") == 1
    (span,) = capture.spans("token_blacklist.revoke_all")
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "noperm"
    (event,) = capture.events("token_blacklist.revoke_all_failed")
    assert event["log_level"] == "error" and event["reason"] == "noperm"
    assert_subject_absent(capture, "user-8")
    with pytest.raises(Exception, match="not confirmed \\(noperm\\)"):
        result.raise_for_failure()


def test_revoke_all_against_a_dead_server_is_not_retried_in_vain(
    harness: Harness, make_server: Any
) -> None:
    server = make_server()
    server.stop()
    no_client_retry = {"retry": Retry(NoBackoff(), 0)}
    result = harness.call(server, "revoke_all", "user-9", 60, client_kwargs=no_client_retry)
    assert not result.ok and result.reason is FailureReason.CONNECTION
    assert result.round_trips == 1  # connection refused: re-sending at once cannot help


def test_subject_check_honours_not_before(
    harness: Harness, redis_server: RedisServer, admin: redis.Redis
) -> None:
    not_before = harness.call(redis_server, "revoke_all", "user-10", 60).not_before
    token_hash = hash_token("some token")

    def check(issued_at: float, subject: str = "user-10") -> bool:
        return bool(subject_check(harness, redis_server, token_hash, subject, issued_at))

    assert check(not_before - 1)  # issued before: revoked
    assert not check(not_before)  # issued at the not-before: accepted
    revoked = [s for s in harness.capture.spans("token_blacklist.check")]
    assert [dict(s.attributes or {})["token_blacklist.subject_revoked"] for s in revoked] == [
        True,
        False,
    ]
    # A subject without a not-before only depends on the token's own key.
    admin.set(f"{PREFIX}:{token_hash}", 1, ex=60)
    assert check(0, subject="someone else")


def test_concurrent_and_older_revoke_all_never_move_not_before_back(
    redis_server: RedisServer, admin: redis.Redis, capture: TelemetryCapture
) -> None:
    client = redis_server.client()
    blacklist = TokenBlacklist(client, **capture.kwargs())
    later = blacklist.revoke_all("user-11", 600, clock_skew=120)
    earlier = blacklist.revoke_all("user-11", 60, clock_skew=0)  # delayed, older and shorter
    assert later.ok and earlier.ok and earlier.not_before < later.not_before
    assert stored_not_before(admin, "user-11") == later.not_before
    assert admin.ttl(nbf_key("user-11")) > 600  # the shorter TTL did not cut it either

    results = []
    skews = [float(s) for s in range(0, 400, 25)]
    barrier = threading.Barrier(len(skews))

    def revoke(skew: float) -> None:
        barrier.wait()
        results.append(blacklist.revoke_all("user-12", 60, clock_skew=skew))

    threads = [threading.Thread(target=revoke, args=(skew,)) for skew in skews]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.ok for r in results)
    assert stored_not_before(admin, "user-12") == max(r.not_before for r in results)
    client.close()


def test_bad_input_is_rejected_before_sending(
    redis_server: RedisServer, capture: TelemetryCapture
) -> None:
    client = redis_server.client()
    blacklist = TokenBlacklist(client, **capture.kwargs())
    with pytest.raises(InvalidTokenHash):
        blacklist.revoke_all("", 60)
    with pytest.raises(InvalidTokenHash):
        blacklist.revoke_all("user", 0)
    with pytest.raises(TypeError):
        blacklist.is_blacklisted(hash_token("t"), issued_at=5)  # no subject
    ops = "token_blacklist_operations_total"
    assert capture.sample(ops, operation="revoke_all", outcome="rejected") == 2
    assert capture.sample(ops, operation="check", outcome="rejected") == 1
    client.close()


async def test_log_out_everywhere_across_two_app_instances(
    redis_server: RedisServer, admin: redis.Redis, web_capture: WebCapture, tokens: Any
) -> None:
    laptop = tokens.issue("dave", "access", iat=int(time.time()) - 30)
    phone = tokens.issue("dave", "access", iat=int(time.time()) - 5)
    phone_refresh = tokens.issue("dave", "refresh", iat=int(time.time()) - 5)
    other_user = tokens.issue("erin", "access")
    async with (
        running_app(redis_server, web_capture, tokens) as app_a,
        running_app(redis_server, web_capture, tokens) as app_b,
    ):
        for app in (app_a, app_b):
            assert (await app.get("/me", headers=bearer(phone))).status_code == 200
        web_capture.clear()
        answer = await app_a.post("/logout-everywhere", headers=bearer(laptop))
        spans, logs = web_capture.spans(), list(web_capture.logs)
        not_before = answer.json()["revoked_before"]
        refresh = await app_b.post("/refresh", json={"refresh_token": phone_refresh})
        fresh = tokens.issue("dave", "access", iat=not_before)
        just_before = tokens.issue("dave", "access", iat=not_before - 1)
        statuses = {
            name: [
                (await app.get("/me", headers=bearer(token))).status_code for app in (app_a, app_b)
            ]
            for name, token in [
                ("laptop", laptop),
                ("phone", phone),
                ("just_before", just_before),
                ("fresh", fresh),
                ("other_user", other_user),
            ]
        }

    assert answer.status_code == 200
    assert refresh.status_code == 401  # refresh tokens issued before are revoked too
    assert stored_not_before(admin, "dave") == not_before
    assert admin.ttl(nbf_key("dave")) >= example.REFRESH_LIFETIME
    assert statuses == {
        "laptop": [401, 401],
        "phone": [401, 401],
        "just_before": [401, 401],
        "fresh": [200, 200],
        "other_user": [200, 200],
    }
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    (revoke,) = [s for s in spans if s.name == "token_blacklist.revoke_all"]
    assert revoke.parent is not None and revoke.parent.span_id == server.context.span_id
    (event,) = [e for e in logs if e["event"] == "token_blacklist.subject_revoked"]
    assert event["trace_id"] == format(server.context.trace_id, "032x")
    ops = "token_blacklist_operations_total"
    assert web_capture.sample(ops, operation="revoke_all", outcome="success") == 1
    assert_subject_absent(web_capture, "dave")


async def test_log_out_everywhere_failure_answers_503(
    acl_server: RedisServer, web_capture: WebCapture, tokens: Any
) -> None:
    # This Redis user may neither read nor write not-befores; with on_check_error="allow"
    # the request gets through the check and reaches revoke_all, which must not pretend.
    token = tokens.issue("frank", "access")
    async with running_app(
        acl_server, web_capture, tokens, client_kwargs=PARTIAL, on_check_error="allow"
    ) as http:
        answer = await http.post("/logout-everywhere", headers=bearer(token))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "revoked_before" not in answer.json()
    ops = "token_blacklist_operations_total"
    assert web_capture.sample(ops, operation="revoke_all", outcome="failure") == 1
    (event,) = web_capture.events("token_blacklist.revoke_all_failed")
    assert event["reason"] == "noperm"
    admin = acl_server.client()
    assert admin.exists(nbf_key("frank")) == 0
    admin.close()


def test_revoke_all_on_a_cluster(cluster: Any) -> None:
    """The token key and the subject's key live in different slots (other nodes): the
    subject-aware check still answers from both."""
    client = cluster.client()
    blacklist = TokenBlacklist(client, **TelemetryCapture().kwargs())
    result = blacklist.revoke_all("grace", 60)
    subject_node = cluster.node_for_slot(key_slot(nbf_key("grace").encode()))
    token_hash = next(
        h
        for h in (hash_token(f"token {i}") for i in range(100))
        if cluster.node_for_slot(key_slot(f"{PREFIX}:{h}".encode())) is not subject_node
    )
    assert result.ok
    assert client.zscore(nbf_key("grace"), "nbf") == result.not_before
    assert blacklist.is_blacklisted(token_hash, subject="grace", issued_at=result.not_before - 1)
    assert not blacklist.is_blacklisted(token_hash, subject="grace", issued_at=result.not_before)
    blacklist.blacklist_tokens([token_hash], 60)
    assert blacklist.is_blacklisted(token_hash, subject="grace", issued_at=result.not_before)
    client.close()
