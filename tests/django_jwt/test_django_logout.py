"""Django REST framework SimpleJWT through DRF's APIClient and real redis-server processes:
every protected view checks the blacklist (access tokens too), logout and rotation revoke,
failures are explained with counts that match what Redis holds."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
import redis
from opentelemetry.trace import SpanKind, StatusCode
from rest_framework.test import APIClient

from assertions import PREFIX
from conftest import PARTIAL_USER
from token_blacklist.server import RedisServer
from web.app_harness import WebCapture
from web.test_logout_flow import assert_nothing_secret, only

from .conftest import (
    AppFactory,
    bearer,
    claims_of,
    example_settings,
    jti_hash,
    login,
    login_where,
    url_for,
)

ACCESS = int(example_settings.ACCESS_LIFETIME.total_seconds())
REFRESH = int(example_settings.REFRESH_LIFETIME.total_seconds())
LEEWAY = example_settings.VERIFY_LEEWAY


def allowed(token_hash: str) -> bool:
    """Inside the ACL user's key pattern (``~token_blacklist:[0-7]*``)."""
    return token_hash[0] in "01234567"


def key(token: str) -> str:
    return f"{PREFIX}:{jti_hash(token)}"


def secrets_of(*tokens: str) -> list[str]:
    """Everything that must never be printed: the tokens, their jti and hash, the user id."""
    found: list[str] = []
    for token in tokens:
        claims = claims_of(token)
        found += [token, claims["jti"], jti_hash(token), claims["user_id"]]
    return found


def assert_no_secret_in(bodies: list[Any], secrets: list[str]) -> None:
    blob = json.dumps(bodies, default=str)
    for secret in secrets:
        assert secret not in blob


def post(http: APIClient, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return http.post(path, body or {}, format="json", **headers)


def test_logout_revokes_both_tokens_in_one_trace(  # noqa: PLR0917 (fixtures)
    redis_server: RedisServer,
    admin: redis.Redis,
    web_capture: WebCapture,
    redis_spans: None,
    django_app: AppFactory,
    make_user: Any,
) -> None:
    http = django_app(redis_server.url)
    make_user("alice")
    pair = login(http, "alice")
    access, refresh = pair["access"], pair["refresh"]
    assert http.get("/me/", **bearer(access)).json() == {"user": "alice"}
    web_capture.clear()
    answer = post(http, "/logout/", {"refresh": refresh}, **bearer(access))
    spans, logs = web_capture.spans(), list(web_capture.logs)
    reuse = http.get("/me/", **bearer(access))
    reuse_async = http.get("/me-async/", **bearer(access))
    verify = post(http, "/api/token/verify/", {"token": access})
    refresh_reuse = post(http, "/api/token/refresh/", {"refresh": refresh})

    assert answer.status_code == 200
    assert answer.json() == {"revoked": 2, "not_revoked": 0, "already_expired": 0}
    # A revoked access token is refused by every protected view, DRF and plain async.
    assert reuse.status_code == 401
    assert reuse.json()["messages"][0]["message"] == "Token is blacklisted"
    assert reuse_async.status_code == 401
    assert reuse_async.json() == {"detail": "Token is blacklisted"}
    assert verify.status_code == 401
    # A revoked refresh token is refused on refresh.
    assert refresh_reuse.status_code == 401
    assert refresh_reuse.json()["detail"] == "Token is blacklisted"
    # Each entry lives until its own token's exp plus SimpleJWT's LEEWAY.
    for token, lifetime in ((access, ACCESS), (refresh, REFRESH)):
        exp = claims_of(token)["exp"]
        assert abs(admin.ttl(key(token)) - math.ceil(exp + LEEWAY - time.time())) <= 2
        assert lifetime - 2 <= admin.ttl(key(token)) <= lifetime + LEEWAY

    # One trace: POST logout/ (server, root) -> token_blacklist.blacklist_tokens -> Redis.
    server = only(spans, kind=SpanKind.SERVER)
    assert server.name == "POST logout/" and server.parent is None
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
    # The logout itself checked nothing (a retry after a 503 must get through).
    assert not [s for s in spans if s.name == "token_blacklist.is_blacklisted"]

    trace_id = format(server.context.trace_id, "032x")
    library = [e for e in logs if e["event"] == "token_blacklist.blacklisted"]
    app = [e for e in logs if e["event"] == "app.logout"]
    assert len(library) == 1 and len(app) == 1
    assert library[0]["trace_id"] == app[0]["trace_id"] == trace_id
    assert web_capture.sample("token_blacklist_tokens_total", outcome="succeeded") == 2
    # The checks of the reused tokens answered "blacklisted" and said so in the metrics.
    assert web_capture.sample("token_blacklist_checks_total", result="blacklisted") == 4
    metrics = http.get("/metrics").content.decode()
    assert 'token_blacklist_tokens_total{outcome="succeeded"} 2.0' in metrics
    secrets = secrets_of(access, refresh)
    assert_nothing_secret(web_capture, *secrets)
    responses = (answer, reuse, reuse_async, verify, refresh_reuse)
    assert_no_secret_in([r.json() for r in responses], secrets)


def test_rotation_revokes_the_old_refresh_token(
    redis_server: RedisServer, admin: redis.Redis, django_app: AppFactory, make_user: Any
) -> None:
    http = django_app(redis_server.url)
    make_user("erin")
    old = login(http, "erin")["refresh"]
    rotated = post(http, "/api/token/refresh/", {"refresh": old})
    assert rotated.status_code == 200
    new = rotated.json()["refresh"]
    assert claims_of(new)["jti"] != claims_of(old)["jti"]
    assert admin.exists(key(old)) == 1
    assert admin.ttl(key(old)) > REFRESH - 5
    assert admin.exists(key(new)) == 0
    assert post(http, "/api/token/refresh/", {"refresh": old}).status_code == 401
    assert post(http, "/api/token/refresh/", {"refresh": new}).status_code == 200
    assert http.get("/me/", **bearer(rotated.json()["access"])).status_code == 200


def test_simplejwt_blacklist_view_revokes_and_may_be_retried(
    redis_server: RedisServer, admin: redis.Redis, django_app: AppFactory, make_user: Any
) -> None:
    http = django_app(redis_server.url)
    make_user("gina")
    refresh = login(http, "gina")["refresh"]
    assert post(http, "/api/token/blacklist/", {"refresh": refresh}).status_code == 200
    assert admin.exists(key(refresh)) == 1
    assert post(http, "/api/token/refresh/", {"refresh": refresh}).status_code == 401
    again = post(http, "/api/token/blacklist/", {"refresh": refresh})
    assert again.status_code == 200 and again.json() == {}


def test_logout_everywhere_refuses_older_tokens_and_accepts_new_ones(
    redis_server: RedisServer, admin: redis.Redis, django_app: AppFactory, make_user: Any
) -> None:
    http = django_app(redis_server.url, CLOCK_SKEW=0)
    make_user("dave")
    make_user("frank")
    laptop, phone = login(http, "dave"), login(http, "dave")
    other = login(http, "frank")
    answer = post(http, "/logout-everywhere/", **bearer(phone["access"]))
    assert answer.status_code == 200
    not_before = answer.json()["revoked_before"]
    for pair in (laptop, phone):
        assert http.get("/me/", **bearer(pair["access"])).status_code == 401
        assert http.get("/me-async/", **bearer(pair["access"])).status_code == 401
        assert post(http, "/api/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401
    assert http.get("/me/", **bearer(other["access"])).status_code == 200
    # The entry lives as long as a token issued just before it is accepted: the longest
    # SimpleJWT lifetime (refresh) plus the LEEWAY.
    (nbf_key,) = admin.keys(f"{PREFIX}:nbf:*")
    assert REFRESH + LEEWAY - 1 <= admin.ttl(nbf_key) <= REFRESH + LEEWAY + 1
    # SimpleJWT's iat is whole seconds: wait for the first second not before the cut.
    time.sleep(max(0.0, math.ceil(not_before) - time.time()))
    fresh = login(http, "dave")
    assert claims_of(fresh["access"])["iat"] >= not_before
    assert http.get("/me/", **bearer(fresh["access"])).status_code == 200
    assert post(http, "/api/token/refresh/", {"refresh": fresh["refresh"]}).status_code == 200


def test_partial_failure_answers_503_with_exactly_what_redis_holds(
    acl_server: RedisServer, web_capture: WebCapture, django_app: AppFactory, make_user: Any
) -> None:
    http = django_app(url_for(acl_server, PARTIAL_USER))
    make_user("bob")
    pair = login_where(http, "bob", lambda a, r: allowed(a) and not allowed(r))
    access, refresh = pair["access"], pair["refresh"]
    web_capture.clear()
    answer = post(http, "/logout/", {"refresh": refresh}, **bearer(access))
    logs = list(web_capture.logs)

    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    body = answer.json()
    assert body["revoked"] == 1 and body["not_revoked"] == 1
    admin = acl_server.client()
    assert admin.exists(key(access)) == 1 and admin.exists(key(refresh)) == 0
    # The revoked access token is refused even though this user cannot read not-befores.
    assert http.get("/me/", **bearer(access)).status_code == 401
    assert web_capture.sample("token_blacklist_token_failures_total", reason="noperm") == 1
    (event,) = [e for e in logs if e["event"] == "token_blacklist.partial_failure"]
    assert event["reasons"] == {"noperm": 1}
    (app_event,) = [e for e in logs if e["event"] == "app.logout"]
    assert app_event["status"] == 503
    secrets = secrets_of(access, refresh)
    assert_nothing_secret(web_capture, *secrets)
    assert_no_secret_in([body], secrets)

    # The retry (the bearer is not checked by the logout view) goes through once the
    # Redis user may write.
    retry = django_app(acl_server.url)
    again = post(retry, "/logout/", {"refresh": refresh}, **bearer(access))
    assert again.status_code == 200 and again.json()["revoked"] == 2
    assert admin.exists(key(refresh)) == 1
    admin.close()


def test_rotation_not_confirmed_answers_503_and_issues_nothing(
    make_server: Any, web_capture: WebCapture, django_app: AppFactory, make_user: Any
) -> None:
    server = make_server()
    admin = server.client()
    # May read every key (checks work) but write only part of them.
    admin.acl_setuser(
        "rotator",
        enabled=True,
        passwords=["+rotator-pw"],
        keys=["%R~*", f"%W~{PREFIX}:[0-7]*"],
        commands=["+@connection", "+set", "+exists", "+zscore", "+ping"],
    )
    http = django_app(url_for(server, ("rotator", "rotator-pw")))
    make_user("ivan")
    refresh = login_where(http, "ivan", lambda a, r: not allowed(r))["refresh"]
    web_capture.clear()
    answer = post(http, "/api/token/refresh/", {"refresh": refresh})

    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    body = answer.json()
    assert body == {
        "revoked": 0,
        "not_revoked": 1,
        "already_expired": 0,
        "detail": "logout incomplete: some tokens are still valid; retry",
    }
    assert admin.exists(key(refresh)) == 0  # exactly what the body says
    assert web_capture.sample("token_blacklist_token_failures_total", reason="noperm") == 1
    secrets = secrets_of(refresh)
    assert_nothing_secret(web_capture, *secrets)
    assert_no_secret_in([body], secrets)
    # Not revoked, as answered: the same token rotates once Redis accepts the write.
    retried = post(django_app(server.url), "/api/token/refresh/", {"refresh": refresh})
    assert retried.status_code == 200
    assert admin.exists(key(refresh)) == 1
    admin.close()


@pytest.mark.parametrize(("policy", "status"), [("raise", 503), ("deny", 401), ("allow", 200)])
def test_redis_down_follows_on_check_error(  # noqa: PLR0917 (fixtures)
    make_server: Any,
    web_capture: WebCapture,
    django_app: AppFactory,
    make_user: Any,
    policy: str,
    status: int,
) -> None:
    server = make_server()
    http = django_app(server.url, ON_CHECK_ERROR=policy)
    make_user("carol")
    pair = login(http, "carol")
    server.stop()
    answer = http.get("/me/", **bearer(pair["access"]))
    answer_async = http.get("/me-async/", **bearer(pair["access"]))
    refresh = post(http, "/api/token/refresh/", {"refresh": pair["refresh"]})
    logout = post(http, "/logout/", {"refresh": pair["refresh"]}, **bearer(pair["access"]))

    assert answer.status_code == status
    assert answer_async.status_code == status
    unavailable = {"detail": "token revocation status unavailable; retry"}
    if policy == "raise":
        # Explained, never a bare 500: JSON body and Retry-After.
        for response in (answer, answer_async, refresh):
            assert response.status_code == 503
            assert response["Retry-After"] == "5"
            assert response.json() == unavailable
    elif policy == "deny":
        assert refresh.status_code == 401
    else:
        # Accepted, but the rotation cannot revoke the old token: no new pair.
        assert refresh.status_code == 503 and refresh.json()["not_revoked"] == 1
        assert "refresh" not in refresh.json() and "access" not in refresh.json()
    assert web_capture.sample("token_blacklist_checks_total", result="error") == 3
    events = web_capture.events("token_blacklist.check_failed")
    assert len(events) == 3 and {e["policy"] for e in events} == {policy}
    # A logout with Redis down is never reported done.
    assert logout.status_code == 503 and logout["Retry-After"] == "5"
    assert logout.json()["revoked"] == 0 and logout.json()["not_revoked"] == 2
    secrets = secrets_of(pair["access"], pair["refresh"])
    assert_nothing_secret(web_capture, *secrets)
    refusals = [logout.json(), refresh.json()]
    if policy != "allow":  # /me itself answers the user when allowed
        refusals += [answer.json(), answer_async.json()]
    assert_no_secret_in(refusals, secrets)


def test_logout_refuses_what_it_cannot_revoke_as_asked(
    redis_server: RedisServer, admin: redis.Redis, django_app: AppFactory, make_user: Any
) -> None:
    http = django_app(redis_server.url)
    make_user("kim")
    make_user("lee")
    kim, lee = login(http, "kim"), login(http, "lee")
    mixed = post(http, "/logout/", {"refresh": lee["refresh"]}, **bearer(kim["access"]))
    assert mixed.status_code == 400
    assert mixed.json() == {"detail": "the tokens belong to different subjects"}
    wrong_type = post(http, "/logout/", {"refresh": kim["access"]}, **bearer(kim["access"]))
    assert wrong_type.status_code == 401
    garbage = post(http, "/logout/", {"refresh": "not-a-token"}, **bearer(kim["access"]))
    assert garbage.status_code == 401
    assert post(http, "/logout/").status_code == 401  # no bearer
    assert admin.keys(f"{PREFIX}:*") == []  # nothing revoked by a refused logout
    alone = post(http, "/logout/", **bearer(kim["access"]))
    assert alone.json() == {"revoked": 1, "not_revoked": 0, "already_expired": 0}
