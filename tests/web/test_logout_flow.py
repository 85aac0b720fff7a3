"""Logout through a real FastAPI app (the one in examples/) and real redis-server processes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from assertions import PREFIX
from conftest import PARTIAL_USER
from token_blacklist import hash_token
from token_blacklist.server import RedisServer

from .app_harness import WebCapture, bearer, example, issue_where, running_app

PARTIAL = {"username": PARTIAL_USER[0], "password": PARTIAL_USER[1]}


def allowed(token_hash: str) -> bool:
    """Inside the ACL user's key pattern (``~token_blacklist:[0-7]*``)."""
    return token_hash[0] in "01234567"


def key(token: str) -> str:
    return f"{PREFIX}:{hash_token(token)}"


def only(spans: list[ReadableSpan], **match: Any) -> ReadableSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, [s.name for s in found]
    return found[0]


def assert_nothing_secret(capture: WebCapture, *secrets: str) -> None:
    """No token, hash, Redis key or subject in any span (Redis ones included) or log event."""
    texts = [json.dumps(event, default=str) for event in capture.logs]
    for span in capture.spans():
        texts.append(span.name)
        texts.append(json.dumps(dict(span.attributes or {}), default=str))
        texts.append(str(span.status.description))
        texts.extend(json.dumps(dict(e.attributes or {}), default=str) for e in span.events)
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob


@pytest.mark.parametrize("fast_path", [True, False], ids=["wire", "pipeline"])
async def test_logout_then_reuse_is_401_in_one_trace(  # noqa: PLR0917 (fixtures)
    redis_server: RedisServer,
    admin: redis.Redis,
    web_capture: WebCapture,
    tokens: Any,
    redis_spans: None,
    fast_path: bool,
) -> None:
    access, refresh = tokens.issue("alice", "access"), tokens.issue("alice", "refresh")
    async with running_app(redis_server, web_capture, tokens, fast_path=fast_path) as http:
        assert (await http.get("/me", headers=bearer(access))).status_code == 200
        assert (await http.post("/refresh", json={"refresh_token": refresh})).status_code == 200
        web_capture.clear()
        answer = await http.post("/logout", json={"refresh_token": refresh}, headers=bearer(access))
        spans, logs = web_capture.spans(), list(web_capture.logs)
        reuse = await http.get("/me", headers=bearer(access))
        refresh_reuse = await http.post("/refresh", json={"refresh_token": refresh})

    assert answer.status_code == 200
    assert answer.json() == {"revoked": 2, "not_revoked": 0, "already_expired": 0}
    assert reuse.status_code == 401
    assert reuse.headers["www-authenticate"] == "Bearer"
    assert refresh_reuse.status_code == 401
    # Entries live as long as the tokens are accepted: remaining lifetime plus PyJWT's leeway.
    leeway = example.VERIFY_LEEWAY
    assert example.ACCESS_LIFETIME <= admin.ttl(key(access)) <= example.ACCESS_LIFETIME + leeway
    assert example.REFRESH_LIFETIME <= admin.ttl(key(refresh)) <= example.REFRESH_LIFETIME + leeway

    # One trace: POST /logout (server, root) -> token_blacklist.blacklist_tokens -> Redis.
    server = only(spans, kind=SpanKind.SERVER)
    assert server.name == "POST /logout" and server.parent is None
    assert {s.context.trace_id for s in spans} == {server.context.trace_id}
    blacklist = only(spans, name="token_blacklist.blacklist_tokens")
    assert blacklist.parent is not None and blacklist.parent.span_id == server.context.span_id
    attributes = dict(blacklist.attributes or {})
    assert attributes["token_blacklist.requested"] == 2
    assert attributes["token_blacklist.succeeded"] == 2
    assert attributes["token_blacklist.failed"] == 0
    assert attributes["server.port"] == redis_server.port
    assert blacklist.status.status_code is StatusCode.UNSET
    # The Redis round trip: the library's own span on the fast path (redis-py's
    # instrumentation cannot see it), the instrumentation's span on the pipeline path.
    round_trip = only(spans, kind=SpanKind.CLIENT)
    assert round_trip.parent is not None
    assert round_trip.parent.span_id == blacklist.context.span_id
    round_trip_attributes = dict(round_trip.attributes or {})
    if fast_path:
        assert round_trip.name == "BATCH SET"
        assert round_trip.instrumentation_scope is not None
        assert round_trip.instrumentation_scope.name == "token_blacklist"
        assert round_trip_attributes["db.operation.batch.size"] == 2
        assert round_trip_attributes["db.system.name"] == "redis"
        assert round_trip_attributes["server.port"] == redis_server.port
    else:
        assert round_trip_attributes["db.redis.pipeline_length"] == 2
    assert round_trip.status.status_code is StatusCode.UNSET

    # Logs: the library's event and the app's own carry the same trace id.
    trace_id = format(server.context.trace_id, "032x")
    library = [e for e in logs if e["event"] == "token_blacklist.blacklisted"]
    app = [e for e in logs if e["event"] == "app.logout"]
    assert len(library) == 1 and len(app) == 1
    assert library[0]["trace_id"] == app[0]["trace_id"] == trace_id
    assert library[0]["span_id"] == format(blacklist.context.span_id, "016x")
    assert app[0]["span_id"] == format(server.context.span_id, "016x")
    assert web_capture.sample("token_blacklist_tokens_total", outcome="succeeded") == 2
    assert_nothing_secret(web_capture, access, refresh, hash_token(access), "alice")


async def test_partial_failure_answers_503_and_logout_stays_retryable(
    acl_server: RedisServer, web_capture: WebCapture, tokens: Any
) -> None:
    access = issue_where(tokens, "bob", "access", allowed)
    refresh = issue_where(tokens, "bob", "refresh", lambda h: not allowed(h))
    body = {"refresh_token": refresh}
    async with running_app(acl_server, web_capture, tokens, client_kwargs=PARTIAL) as http:
        answer = await http.post("/logout", json=body, headers=bearer(access))
        spans, logs = web_capture.spans(), list(web_capture.logs)
        # The access token is revoked (its key is within the ACL): rejected even though
        # this user may not read the subject's not-before.
        reuse = await http.get("/me", headers=bearer(access))

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["revoked"] == 1 and answer.json()["not_revoked"] == 1
    admin = acl_server.client()
    assert admin.exists(key(access)) == 1 and admin.exists(key(refresh)) == 0
    assert reuse.status_code == 401

    assert web_capture.sample("token_blacklist_tokens_total", outcome="succeeded") == 1
    assert web_capture.sample("token_blacklist_tokens_total", outcome="failed") == 1
    assert web_capture.sample("token_blacklist_token_failures_total", reason="noperm") == 1
    assert (
        web_capture.sample(
            "token_blacklist_operations_total", operation="blacklist", outcome="partial"
        )
        == 1
    )
    server = only(spans, kind=SpanKind.SERVER)
    blacklist = only(spans, name="token_blacklist.blacklist_tokens")
    assert blacklist.status.status_code is StatusCode.ERROR
    assert dict(blacklist.attributes or {})["error.type"] == "noperm"
    (event,) = [e for e in logs if e["event"] == "token_blacklist.partial_failure"]
    assert event["log_level"] == "warning"
    assert event["reasons"] == {"noperm": 1}
    assert event["trace_id"] == format(server.context.trace_id, "032x")
    assert_nothing_secret(web_capture, access, refresh, hash_token(access), hash_token(refresh))
    assert_nothing_secret(web_capture, "bob")

    # The client follows Retry-After against an instance whose Redis user may write: the
    # logout endpoint accepts the already revoked access token, so the retry can complete.
    async with running_app(acl_server, web_capture, tokens) as http:
        retry = await http.post("/logout", json=body, headers=bearer(access))
    assert retry.status_code == 200 and retry.json()["revoked"] == 2
    assert admin.exists(key(refresh)) == 1
    admin.close()


@pytest.mark.parametrize(("policy", "status"), [("raise", 503), ("deny", 401), ("allow", 200)])
async def test_check_outage_follows_on_check_error(
    acl_server: RedisServer, web_capture: WebCapture, tokens: Any, policy: str, status: int
) -> None:
    # Outside the ACL pattern: EXISTS is refused with NOPERM, the check has no answer.
    access = issue_where(tokens, "carol", "access", lambda h: not allowed(h))
    async with running_app(
        acl_server, web_capture, tokens, client_kwargs=PARTIAL, on_check_error=policy
    ) as http:
        answer = await http.get("/me", headers=bearer(access))
    assert answer.status_code == status
    if policy == "raise":
        assert answer.headers["retry-after"] == "5"
    assert web_capture.sample("token_blacklist_checks_total", result="error") == 1
    (event,) = web_capture.events("token_blacklist.check_failed")
    assert event["reasons"] == {"noperm": 1} and event["policy"] == policy
