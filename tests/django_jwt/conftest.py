"""The example Django project, driven through DRF's APIClient against real redis-server
processes, with every span and log line captured.

Django is configured here, with the example's own settings (``settings.configure``, no
``DJANGO_SETTINGS_MODULE``), so pytest-django has settings only when this directory is
collected and the rest of the suite runs as it does without it.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings as django_settings
from opentelemetry.instrumentation.django import DjangoInstrumentor

from cli.test_cli_tls import tls_server  # a real redis-server with a TLS port, its CA
from cluster.sentinel_fixtures import sentinel_set  # primary, 2 replicas and a Sentinel
from token_blacklist import hash_token
from token_blacklist.server import RedisServer
from web import fixtures as web_fixtures
from web.app_harness import WebCapture

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO = EXAMPLES / "django_logout_app" / "demo.py"
sys.path.insert(0, str(EXAMPLES))

from django_logout_app import settings as example_settings  # noqa: E402

if not django_settings.configured:
    django_settings.configure(
        **{
            name: getattr(example_settings, name)
            for name in dir(example_settings)
            if name.isupper()
        }
    )
    django.setup()

from django_logout_app import views as example_views  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework_simplejwt.tokens import UntypedToken  # noqa: E402

__all__ = ["sentinel_set", "tls_server"]  # fixtures, re-exported for this directory

AppFactory = Callable[..., APIClient]
PASSWORD = "pw-" + secrets.token_hex(8)


web_capture = web_fixtures.web_capture
redis_spans = web_fixtures.redis_spans


@pytest.fixture
def django_app(
    settings: Any, db: None, web_capture: WebCapture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppFactory]:
    """``django_app(url, **TOKEN_BLACKLIST overrides)`` -> an APIClient of the example
    project whose client is rebuilt from those settings (Django instrumented into this
    test's provider, the example's log lines into this test's capture). ``url`` None: no
    ``REDIS_URL`` at all (``SENTINELS`` in the overrides)."""
    DjangoInstrumentor().instrument(tracer_provider=web_capture.tracer_provider)
    monkeypatch.setattr(example_views, "log", web_capture.logger)

    def make(url: str | None, **overrides: Any) -> APIClient:
        options = {
            "trace_round_trips": True,
            **web_capture.kwargs(),
            **overrides.pop("CLIENT_OPTIONS", {}),
        }
        settings.TOKEN_BLACKLIST = {
            **({} if url is None else {"REDIS_URL": url}),
            "SOCKET_TIMEOUT": 2,
            "ON_CHECK_ERROR": "raise",
            **overrides,
            "CLIENT_OPTIONS": options,
        }
        return APIClient()

    yield make
    DjangoInstrumentor().uninstrument()


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[[str], Any]:
    """A user with a random id: the user_id claim is then a string a leak check can find."""

    def make(name: str) -> Any:
        user_id = secrets.randbelow(10**9) + 10**9
        return django_user_model.objects.create_user(name, password=PASSWORD, id=user_id)

    return make


def url_for(server: RedisServer, user: tuple[str, str] | None = None) -> str:
    credentials = f"{user[0]}:{user[1]}@" if user else ""
    return f"redis://{credentials}{server.host}:{server.port}/0"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, signature verified with the project's key (no revocation check)."""
    return dict(UntypedToken(token).payload)


def jti_hash(token: str) -> str:
    """The hash a token is revoked under (of its jti)."""
    return hash_token(claims_of(token)["jti"])


def login(http: APIClient, user: str) -> dict[str, str]:
    answer = http.post("/api/token/", {"username": user, "password": PASSWORD}, format="json")
    assert answer.status_code == 200, answer.content
    pair: dict[str, str] = answer.json()
    return pair


def login_where(http: APIClient, user: str, wanted: Callable[[str, str], bool]) -> dict[str, str]:
    """Log in until the pair's jti hashes satisfy ``wanted(access_hash, refresh_hash)``."""
    while True:
        pair = login(http, user)
        if wanted(jti_hash(pair["access"]), jti_hash(pair["refresh"])):
            return pair
