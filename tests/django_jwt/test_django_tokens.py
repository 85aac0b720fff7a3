"""The token classes, the authentication class and the settings on their own: sliding
tokens, SimpleJWT's own AccessToken still checked, async views, start-up validation."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from django.apps import apps
from rest_framework.test import APIClient
from rest_framework_simplejwt import authentication as simplejwt_authentication
from rest_framework_simplejwt import serializers as simplejwt_serializers
from rest_framework_simplejwt import tokens as simplejwt_tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

from assertions import PREFIX
from token_blacklist import hash_token
from token_blacklist.django_jwt import config
from token_blacklist.django_jwt.tokens import (
    AccessToken,
    RefreshToken,
    RevocationUnavailable,
    SlidingToken,
)
from token_blacklist.server import RedisServer
from web.app_harness import WebCapture

from .conftest import AppFactory, bearer, claims_of, example_settings, login


def test_a_revoked_sliding_token_stays_revoked_as_long_as_a_refreshed_copy_lives(
    redis_server: RedisServer, admin: redis.Redis, django_app: AppFactory
) -> None:
    django_app(redis_server.url)
    token = SlidingToken()
    token["user_id"] = "1234567890"
    raw = str(token)
    assert SlidingToken.verified(raw)["jti"] == token["jti"]
    SlidingToken(raw).blacklist()
    with pytest.raises(TokenError, match="blacklisted"):
        SlidingToken(raw)
    # Refreshing keeps the jti: a copy refreshed just before the refresh limit lives one
    # sliding lifetime past it, and must stay revoked that long.
    last = token[api_settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM] + int(
        api_settings.SLIDING_TOKEN_LIFETIME.total_seconds()
    )
    expected = last + example_settings.VERIFY_LEEWAY - time.time()
    assert abs(admin.ttl(f"{PREFIX}:{hash_token(token['jti'])}") - expected) <= 2


def test_simplejwt_own_access_token_is_checked_by_the_authentication_class(
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    django_app: AppFactory,
    make_user: Any,
) -> None:
    # SimpleJWT's modules hold the settings object of their import time (overriding
    # SIMPLE_JWT rebinds a global they do not see): patch the one authentication reads.
    monkeypatch.setattr(
        simplejwt_authentication.api_settings, "AUTH_TOKEN_CLASSES", [simplejwt_tokens.AccessToken]
    )
    http = django_app(redis_server.url)
    make_user("hana")
    access = login(http, "hana")["access"]
    assert http.get("/me/", **bearer(access)).status_code == 200
    AccessToken(access).blacklist()
    refused = http.get("/me/", **bearer(access))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Token is blacklisted"


async def test_async_view_checks_through_the_asyncio_client(
    redis_server: RedisServer, web_capture: WebCapture, django_app: AppFactory, async_client: Any
) -> None:
    django_app(redis_server.url)
    token = AccessToken()
    token["user_id"] = "1234567891"
    raw = str(token)
    assert (await async_client.get("/me-async/", headers=bearer_header(raw))).status_code == 200
    await (await AccessToken.averified(raw)).ablacklist()
    refused = await async_client.get("/me-async/", headers=bearer_header(raw))
    assert refused.status_code == 401
    assert web_capture.sample("token_blacklist_checks_total", result="blacklisted") == 1
    assert web_capture.sample("token_blacklist_tokens_total", outcome="succeeded") == 1


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_misspelt_setting_fails_at_start_up(redis_server: RedisServer, settings: Any) -> None:
    settings.TOKEN_BLACKLIST = {"REDIS_URL": redis_server.url, "ON_CHECK_EROR": "allow"}
    with pytest.raises(ValueError, match="ON_CHECK_EROR"):
        apps.get_app_config("token_blacklist_django_jwt").ready()


def test_defaults_come_from_simplejwt_settings(redis_server: RedisServer, settings: Any) -> None:
    settings.TOKEN_BLACKLIST = {"REDIS_URL": redis_server.url}
    rules = config.rules()
    assert rules.subject_claim == "user_id"
    assert rules.policy.exp_leeway == example_settings.VERIFY_LEEWAY
    refresh = int(example_settings.REFRESH_LIFETIME.total_seconds())
    assert rules.max_token_lifetime == refresh + example_settings.VERIFY_LEEWAY
    assert config.client() is config.client()  # built once


def test_simplejwt_own_rotation_cannot_swallow_our_failure(
    make_server: Any, monkeypatch: pytest.MonkeyPatch, django_app: AppFactory, make_user: Any
) -> None:
    """SimpleJWT's serializer calls ``refresh.blacklist()`` inside ``except AttributeError``:
    ours raises RevocationUnavailable instead, so even that path issues no new pair."""
    server = make_server()
    django_app(server.url, ON_CHECK_ERROR="allow")
    monkeypatch.setattr(simplejwt_serializers.api_settings, "ROTATE_REFRESH_TOKENS", True)
    monkeypatch.setattr(simplejwt_serializers.api_settings, "BLACKLIST_AFTER_ROTATION", True)

    class Stock(simplejwt_serializers.TokenRefreshSerializer):  # type: ignore[misc]
        token_class = RefreshToken

    refresh = RefreshToken()
    refresh["user_id"] = str(make_user("jack").id)  # SimpleJWT's: a missing user is a 500
    server.stop()
    serializer = Stock(data={"refresh": str(refresh)})
    with pytest.raises(RevocationUnavailable) as refused:
        serializer.is_valid()
    assert refused.value.status_code == 503 and refused.value.wait == 5
    assert refused.value.detail["not_revoked"] == 1


def test_threads_share_one_client(
    redis_server: RedisServer, admin: redis.Redis, django_app: AppFactory
) -> None:
    django_app(redis_server.url)
    tokens = []
    for number in range(24):
        token = AccessToken()
        token["user_id"] = f"98765{number:05d}"
        tokens.append(str(token))
    clients: set[int] = set()

    def log_out(raw: str) -> int:
        clients.add(id(config.client()))
        answer = APIClient().post("/logout/", {}, format="json", **bearer(raw))
        return int(answer.status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(log_out, tokens))
    assert statuses == [200] * len(tokens)
    assert len(clients) == 1
    assert all(admin.exists(f"{PREFIX}:{hash_token(claims_of(t)['jti'])}") for t in tokens)


def test_hash_key_names_the_entries(
    redis_server: RedisServer, admin: redis.Redis, django_app: AppFactory
) -> None:
    http = django_app(redis_server.url, HASH_KEY="app-secret")
    token = AccessToken()
    token["user_id"] = "1234567893"
    raw = str(token)
    assert APIClient().post("/logout/", {}, format="json", **bearer(raw)).status_code == 200
    keyed = hash_token(token["jti"], key=b"app-secret")
    assert admin.keys(f"{PREFIX}:*") == [f"{PREFIX}:{keyed}".encode()]
    assert http.get("/me-async/", **bearer(raw)).status_code == 401


def test_cluster_settings_reach_every_node(cluster: Any, django_app: AppFactory) -> None:
    host, port = cluster.addresses[0]
    http = django_app(f"redis://{host}:{port}/0", CLUSTER=True)
    tokens = []
    for number in range(12):  # on one node only by chance: 3 x (1/3)^12
        token = AccessToken()
        token["user_id"] = f"55555{number:05d}"
        tokens.append(str(token))
        answer = http.post("/logout/", {}, format="json", **bearer(tokens[-1]))
        assert answer.json() == {"revoked": 1, "not_revoked": 0, "already_expired": 0}
    hashes = [hash_token(claims_of(t)["jti"]) for t in tokens]
    assert cluster.held(hashes, PREFIX) == set(hashes)
    assert len([port for port, held in cluster.keys_by_node(PREFIX).items() if held]) > 1
    for raw in tokens:
        assert http.get("/me-async/", **bearer(raw)).status_code == 401  # asyncio cluster client
