"""Flask-JWT-Extended through Flask's test client and real redis-server processes: every
protected route checks the blacklist, logout and rotation revoke, failures are explained."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from opentelemetry.trace import SpanKind, StatusCode

from assertions import PREFIX
from conftest import PARTIAL_USER
from token_blacklist.server import RedisServer
from web.app_harness import WebCapture
from web.test_logout_flow import assert_nothing_secret, only

from .conftest import AppFactory, bearer, claims_of, example, jti_hash, login_where, url_for


def allowed(token_hash: str) -> bool:
    """Inside the ACL user's key pattern (``~token_blacklist:[0-7]*``)."""
    return token_hash[0] in "01234567"


def key(http: FlaskClient, token: str) -> str:
    return f"{PREFIX}:{jti_hash(http, token)}"


def secrets_of(http: FlaskClient, *tokens: str) -> list[str]:
    """Everything that must never be printed: the tokens, their jti and hash, the subject."""
    found: list[str] = []
    for token in tokens:
        claims = claims_of(http, token)
        found += [token, claims["jti"], jti_hash(http, token), claims["sub"]]
    return found


def assert_no_secret_in(bodies: list[Any], secrets: list[str]) -> None:
    blob = json.dumps(bodies, default=str)
    for secret in secrets:
        assert secret not in blob


def login(http: FlaskClient, user: str) -> dict[str, str]:
    pair: dict[str, str] = http.post("/login", json={"user": user}).get_json()
    return pair


def test_logout_revokes_both_tokens_in_one_trace(
    redis_server: RedisServer,
    admin: redis.Redis,
    web_capture: WebCapture,
    redis_spans: None,
    flask_app: AppFactory,
) -> None:
    http = flask_app(redis_server.url)
    pair = login(http, "alice")
    access, refresh = pair["access_token"], pair["refresh_token"]
    assert http.get("/me", headers=bearer(access)).status_code == 200
    web_capture.clear()
    answer = http.post("/logout", json={"refresh_token": refresh}, headers=bearer(access))
    spans, logs = web_capture.spans(), list(web_capture.logs)
    reuse = http.get("/me", headers=bearer(access))
    reuse_async = http.get("/me-async", headers=bearer(access))
    refresh_reuse = http.post("/refresh", headers=bearer(refresh))

    assert answer.status_code == 200
    assert answer.get_json() == {"revoked": 2, "not_revoked": 0, "already_expired": 0}
    # A revoked access token is refused by every protected route, sync and async views.
    assert reuse.status_code == 401
    assert reuse.get_json() == {"msg": "Token has been revoked"}
    assert reuse_async.status_code == 401
    # A revoked refresh token is refused on refresh.
    assert refresh_reuse.status_code == 401
    # Each entry lives until its own token's exp plus the leeway Flask-JWT-Extended grants.
    leeway = example.VERIFY_LEEWAY
    for token, lifetime in ((access, example.ACCESS_LIFETIME), (refresh, example.REFRESH_LIFETIME)):
        exp = claims_of(http, token)["exp"]
        assert abs(admin.ttl(key(http, token)) - math.ceil(exp + leeway - time.time())) <= 2
        assert lifetime <= admin.ttl(key(http, token)) <= lifetime + leeway

    # One trace: POST /logout (server, root) -> token_blacklist.blacklist_tokens -> Redis.
    server = only(spans, kind=SpanKind.SERVER)
    assert server.name == "POST /logout" and server.parent is None
    assert {s.context.trace_id for s in spans} == {server.context.trace_id}
    blacklist = only(spans, name="token_blacklist.blacklist_tokens")
    assert blacklist.parent is not None and blacklist.parent.span_id == server.context.span_id
    attributes = dict(blacklist.attributes or {})
    assert attributes["token_blacklist.requested"] == 2
    assert attributes["token_blacklist.succeeded"] == 2
    round_trip = only(spans, kind=SpanKind.CLIENT)
    assert round_trip.name == "BATCH SET"
    assert round_trip.parent is not None
    assert round_trip.parent.span_id == blacklist.context.span_id
    assert dict(round_trip.attributes or {})["db.operation.batch.size"] == 2
    assert round_trip.status.status_code is StatusCode.UNSET

    trace_id = format(server.context.trace_id, "032x")
    library = [e for e in logs if e["event"] == "token_blacklist.blacklisted"]
    app = [e for e in logs if e["event"] == "app.logout"]
    assert len(library) == 1 and len(app) == 1
    assert library[0]["trace_id"] == app[0]["trace_id"] == trace_id
    assert web_capture.sample("token_blacklist_tokens_total", outcome="succeeded") == 2
    # The checks of the reused tokens answered "blacklisted" and said so in the metrics.
    assert web_capture.sample("token_blacklist_checks_total", result="blacklisted") == 3
    secrets = secrets_of(http, access, refresh)
    assert_nothing_secret(web_capture, *secrets)
    bodies = [r.get_json() for r in (answer, reuse, reuse_async, refresh_reuse)]
    assert_no_secret_in(bodies, secrets)


def test_rotation_revokes_the_old_refresh_token(
    redis_server: RedisServer, admin: redis.Redis, flask_app: AppFactory
) -> None:
    http = flask_app(redis_server.url)
    old = login(http, "erin")["refresh_token"]
    rotated = http.post("/refresh", headers=bearer(old))
    assert rotated.status_code == 200
    new = rotated.get_json()["refresh_token"]
    assert admin.exists(key(http, old)) == 1
    assert admin.ttl(key(http, old)) > example.REFRESH_LIFETIME - 5
    assert admin.exists(key(http, new)) == 0
    assert http.post("/refresh", headers=bearer(old)).status_code == 401
    assert http.post("/refresh", headers=bearer(new)).status_code == 200


def test_logout_everywhere_refuses_older_tokens_and_accepts_new_ones(
    redis_server: RedisServer, admin: redis.Redis, flask_app: AppFactory
) -> None:
    http = flask_app(redis_server.url, CLOCK_SKEW=0)
    laptop, phone = login(http, "dave"), login(http, "dave")
    other = login(http, "frank")
    answer = http.post("/logout-everywhere", headers=bearer(phone["access_token"]))
    assert answer.status_code == 200
    not_before = answer.get_json()["revoked_before"]
    for pair in (laptop, phone):
        assert http.get("/me", headers=bearer(pair["access_token"])).status_code == 401
        assert http.post("/refresh", headers=bearer(pair["refresh_token"])).status_code == 401
    assert http.get("/me", headers=bearer(other["access_token"])).status_code == 200
    # The entry lives as long as a token issued just before it is accepted: the refresh
    # lifetime plus the exp leeway.
    (nbf_key,) = admin.keys(f"{PREFIX}:nbf:*")
    longest = example.REFRESH_LIFETIME + example.VERIFY_LEEWAY
    assert longest <= admin.ttl(nbf_key) <= longest + 1
    time.sleep(max(0.0, not_before - time.time()))
    fresh = login(http, "dave")
    assert claims_of(http, fresh["access_token"])["iat"] >= not_before
    assert http.get("/me", headers=bearer(fresh["access_token"])).status_code == 200
    assert http.post("/refresh", headers=bearer(fresh["refresh_token"])).status_code == 200


def test_partial_failure_answers_503_with_exactly_what_redis_holds(
    acl_server: RedisServer, web_capture: WebCapture, flask_app: AppFactory
) -> None:
    http = flask_app(url_for(acl_server, PARTIAL_USER))
    pair = login_where(http, "bob", lambda a, r: allowed(a) and not allowed(r))
    access, refresh = pair["access_token"], pair["refresh_token"]
    web_capture.clear()
    answer = http.post("/logout", json={"refresh_token": refresh}, headers=bearer(access))
    logs = list(web_capture.logs)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    body = answer.get_json()
    assert body["revoked"] == 1 and body["not_revoked"] == 1
    admin = acl_server.client()
    assert admin.exists(key(http, access)) == 1 and admin.exists(key(http, refresh)) == 0
    # The revoked access token is refused even though this user cannot read not-befores.
    assert http.get("/me", headers=bearer(access)).status_code == 401
    assert web_capture.sample("token_blacklist_token_failures_total", reason="noperm") == 1
    (event,) = [e for e in logs if e["event"] == "token_blacklist.partial_failure"]
    assert event["reasons"] == {"noperm": 1}
    secrets = secrets_of(http, access, refresh)
    assert_nothing_secret(web_capture, *secrets)
    assert_no_secret_in([body], secrets)

    # The retry (skip_revocation_check) goes through once the Redis user may write.
    retry = flask_app(acl_server.url).post(
        "/logout", json={"refresh_token": refresh}, headers=bearer(access)
    )
    assert retry.status_code == 200 and retry.get_json()["revoked"] == 2
    assert admin.exists(key(http, refresh)) == 1
    admin.close()


@pytest.mark.parametrize(("policy", "status"), [("raise", 503), ("deny", 401), ("allow", 200)])
def test_redis_down_follows_on_check_error(
    make_server: Any, web_capture: WebCapture, flask_app: AppFactory, policy: str, status: int
) -> None:
    server = make_server()
    http = flask_app(server.url, ON_CHECK_ERROR=policy)
    pair = login(http, "carol")
    server.stop()
    answer = http.get("/me", headers=bearer(pair["access_token"]))
    logout = http.post(
        "/logout",
        json={"refresh_token": pair["refresh_token"]},
        headers=bearer(pair["access_token"]),
    )

    assert answer.status_code == status
    if policy == "raise":
        # Explained, never a bare 500: JSON body and Retry-After.
        assert answer.headers["Retry-After"] == "5"
        assert answer.get_json() == {"detail": "token revocation status unavailable; retry"}
    assert web_capture.sample("token_blacklist_checks_total", result="error") == 1
    (event,) = web_capture.events("token_blacklist.check_failed")
    assert event["policy"] == policy
    # A logout with Redis down is never reported done.
    assert logout.status_code == 503 and logout.headers["Retry-After"] == "5"
    assert logout.get_json()["revoked"] == 0 and logout.get_json()["not_revoked"] == 2
    secrets = secrets_of(http, pair["access_token"], pair["refresh_token"])
    assert_nothing_secret(web_capture, *secrets)
    refusals = [logout.get_json()] + ([] if policy == "allow" else [answer.get_json()])
    assert_no_secret_in(refusals, secrets)  # /me itself answers the subject when allowed


def test_a_misspelt_setting_fails_at_start_up(redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match="ON_CHECK_EROR"):
        example.create_app({"REDIS_URL": redis_server.url, "ON_CHECK_EROR": "allow"})
