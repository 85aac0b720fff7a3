"""``settings.TOKEN_BLACKLIST`` naming a Sentinel, or a ``rediss://`` server with its CA,
through DRF's APIClient against real redis-server processes: logout revokes where the
settings say, the authentication class (sync DRF view) and the async view refuse the
revoked access token, and a CA that does not verify the server fails per
``ON_CHECK_ERROR``, promptly, explained, with nothing secret in the answers."""

from __future__ import annotations

import math
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from assertions import PREFIX
from cluster.sentinel_fixtures import SERVICE, SentinelSet
from token_blacklist.django_jwt.tokens import AccessToken
from token_blacklist.server import RedisServer
from web.app_harness import WebCapture
from web.test_logout_flow import assert_nothing_secret

from .conftest import AppFactory, bearer, claims_of, example_settings, jti_hash, login
from .test_django_logout import assert_no_secret_in, secrets_of

ACCESS = int(example_settings.ACCESS_LIFETIME.total_seconds())
REFRESH = int(example_settings.REFRESH_LIFETIME.total_seconds())
LEEWAY = example_settings.VERIFY_LEEWAY
UNAVAILABLE = {"detail": "token revocation status unavailable; retry"}


def key(token: str) -> str:
    return f"{PREFIX}:{jti_hash(token)}"


def post(http: APIClient, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return http.post(path, body or {}, format="json", **headers)


def assert_revoked_until_exp(client: redis.Redis, access: str, refresh: str) -> None:
    """Both entries held, each until its own token's exp plus SimpleJWT's LEEWAY."""
    for token, lifetime in ((access, ACCESS), (refresh, REFRESH)):
        ttl = client.ttl(key(token))
        assert abs(ttl - math.ceil(claims_of(token)["exp"] + LEEWAY - time.time())) <= 2
        assert lifetime - 2 <= ttl <= lifetime + LEEWAY


def log_out_and_reuse(http: APIClient, access: str, refresh: str) -> None:
    """Accepted before; logout revokes both; then every view refuses them."""
    assert http.get("/me/", **bearer(access)).status_code == 200
    assert http.get("/me-async/", **bearer(access)).status_code == 200
    answer = post(http, "/logout/", {"refresh": refresh}, **bearer(access))
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"revoked": 2, "not_revoked": 0, "already_expired": 0}
    reuse = http.get("/me/", **bearer(access))  # BlacklistJWTAuthentication, sync client
    assert reuse.status_code == 401
    assert reuse.json()["messages"][0]["message"] == "Token is blacklisted"
    reuse_async = http.get("/me-async/", **bearer(access))  # the event loop's asyncio client
    assert reuse_async.status_code == 401
    assert reuse_async.json() == {"detail": "Token is blacklisted"}
    refreshed = post(http, "/api/token/refresh/", {"refresh": refresh})
    assert refreshed.status_code == 401
    assert refreshed.json()["detail"] == "Token is blacklisted"
    secrets = secrets_of(access, refresh)
    assert_no_secret_in([answer.json(), reuse.json(), reuse_async.json()], secrets)


# -- Sentinel -------------------------------------------------------------------------------


def test_sentinel_settings_revoke_on_the_primary_sentinel_names(
    sentinel_set: SentinelSet, django_app: AppFactory, make_user: Any
) -> None:
    sentinel = sentinel_set.sentinel
    assert sentinel is not None
    # No REDIS_URL: the primary is whatever Sentinel names ("host:port", as settings files
    # usually spell it).
    http = django_app(
        None,
        SENTINELS=[f"{sentinel.host}:{sentinel.port}"],
        SENTINEL_SERVICE=SERVICE,
        SENTINEL_OPTIONS={"socket_timeout": 2},
    )
    make_user("nora")
    pair = login(http, "nora")
    access, refresh = pair["access"], pair["refresh"]
    log_out_and_reuse(http, access, refresh)

    primary = sentinel_set.primary()
    admin = primary.client()
    assert admin.exists(key(access), key(refresh)) == 2
    assert_revoked_until_exp(admin, access, refresh)
    assert sorted(admin.keys(f"{PREFIX}:*")) == sorted(
        [key(access).encode(), key(refresh).encode()]
    )
    # The Sentinel transport's WAIT: the 200 came once every replica held the entries, so
    # a failover could not lose them.
    replicas = [s for s in sentinel_set.servers if s is not primary]
    assert len(replicas) == 2
    for replica in replicas:
        copy = replica.client()
        assert copy.exists(key(access), key(refresh)) == 2
        copy.close()
    admin.close()


# -- TLS ------------------------------------------------------------------------------------

TlsServer = tuple[RedisServer, int, Path]


@pytest.fixture
def tls_admin(tls_server: TlsServer) -> redis.Redis:
    """The TLS server's plain port (kept for the launcher's probe), flushed."""
    client = tls_server[0].client()
    client.flushall()
    return client


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA that did not sign the server's certificate."""
    directory = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=not-the-server-ca", "-keyout", "ca.key", "-out", "ca.crt"],
        cwd=directory, check=True, capture_output=True,
    )  # fmt: skip
    return directory / "ca.crt"


def tls_url(tls_server: TlsServer) -> str:
    return f"rediss://127.0.0.1:{tls_server[1]}/0"


def test_tls_settings_revoke_and_the_check_refuses(
    tls_server: TlsServer, tls_admin: redis.Redis, django_app: AppFactory, make_user: Any
) -> None:
    http = django_app(tls_url(tls_server), TLS_CA_FILE=str(tls_server[2]))
    make_user("tess")
    pair = login(http, "tess")
    access, refresh = pair["access"], pair["refresh"]
    log_out_and_reuse(http, access, refresh)

    assert tls_admin.exists(key(access), key(refresh)) == 2
    assert_revoked_until_exp(tls_admin, access, refresh)
    tls_admin.close()


@pytest.mark.parametrize(("policy", "status"), [("raise", 503), ("deny", 401), ("allow", 200)])
def test_tls_with_a_wrong_ca_fails_per_on_check_error(  # noqa: PLR0917 (fixtures)
    tls_server: TlsServer,
    tls_admin: redis.Redis,
    other_ca: Path,
    web_capture: WebCapture,
    django_app: AppFactory,
    make_user: Any,
    policy: str,
    status: int,
) -> None:
    http = django_app(tls_url(tls_server), TLS_CA_FILE=str(other_ca), ON_CHECK_ERROR=policy)
    make_user("walt")
    pair = login(http, "walt")  # issuing a pair needs no Redis
    access, refresh = pair["access"], pair["refresh"]
    started = time.monotonic()
    me = http.get("/me/", **bearer(access))
    me_async = http.get("/me-async/", **bearer(access))
    rotated = post(http, "/api/token/refresh/", {"refresh": refresh})
    logout = post(http, "/logout/", {"refresh": refresh}, **bearer(access))
    elapsed = time.monotonic() - started

    # A refused handshake, not a timeout: four requests well inside one SOCKET_TIMEOUT (2 s).
    assert elapsed < 2
    assert me.status_code == me_async.status_code == status
    if policy == "raise":
        for answer in (me, me_async, rotated):
            assert answer.status_code == 503
            assert answer["Retry-After"] == "5"
            assert answer.json() == UNAVAILABLE
    elif policy == "deny":
        assert rotated.status_code == 401
    else:
        assert me.json() == {"user": "walt"}
        # Accepted, but the old refresh token cannot be revoked: no new pair.
        assert rotated.status_code == 503 and rotated.json()["not_revoked"] == 1
        assert "access" not in rotated.json() and "refresh" not in rotated.json()
    # A logout that reached nothing is never reported done.
    assert logout.status_code == 503 and logout["Retry-After"] == "5"
    assert logout.json() == {
        "revoked": 0,
        "not_revoked": 2,
        "already_expired": 0,
        "detail": "logout incomplete: some tokens are still valid; retry",
    }
    assert tls_admin.keys("*") == []
    events = web_capture.events("token_blacklist.check_failed")
    assert len(events) == 3 and {e["policy"] for e in events} == {policy}
    assert web_capture.sample("token_blacklist_checks_total", result="error") == 3

    secrets = secrets_of(access, refresh)
    assert_nothing_secret(web_capture, *secrets)
    answers = [logout, rotated] + ([] if policy == "allow" else [me, me_async])
    bodies = [a.content.decode() for a in answers]
    assert_no_secret_in(bodies, [*secrets, str(other_ca), str(tls_server[2])])
    for body in bodies:
        assert "Traceback" not in body and "BEGIN" not in body and "certificate" not in body
    tls_admin.close()


@pytest.mark.parametrize("path", ["/me/", "/me-async/"])
def test_a_paused_sentinel_answers_503_within_the_socket_timeout(
    sentinel_set: SentinelSet, django_app: AppFactory, path: str
) -> None:
    sentinel = sentinel_set.sentinel
    assert sentinel is not None
    # No SENTINEL_OPTIONS: the connections to Sentinel get SOCKET_TIMEOUT and
    # CONNECT_TIMEOUT too ("seconds per round trip"), and no redis-py retries of their own.
    # A paused process still accepts connections (the kernel's backlog): only the read
    # timeout ends the wait. Before: forever (no timeout), then 9.5 s (redis-py's retries).
    http = django_app(
        None,
        SENTINELS=[(sentinel.host, sentinel.port)],
        SENTINEL_SERVICE=SERVICE,
        SOCKET_TIMEOUT=0.5,
    )
    token = AccessToken()
    token["user_id"] = "1234567801"
    sentinel.pause()
    try:
        with ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            future = pool.submit(http.get, path, **bearer(str(token)))
            try:
                answer = future.result(timeout=10)
            except FuturesTimeout:
                sentinel.resume()  # lets the request (and the pool) finish
                pytest.fail(f"{path} still waiting on the paused Sentinel after 10 s")
            elapsed = time.monotonic() - started
    finally:
        sentinel.resume()
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert answer.json() == UNAVAILABLE
    assert elapsed < 4 * 0.5, elapsed  # one Sentinel read timeout, not several
