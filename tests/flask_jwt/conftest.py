"""The example Flask-JWT-Extended app, driven through Flask's test client against real
redis-server processes, with every span and log line captured."""

from __future__ import annotations

import importlib.util
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask.testing import FlaskClient

from token_blacklist import hash_token
from token_blacklist.server import RedisServer
from web import fixtures as web_fixtures
from web.app_harness import WebCapture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_logout_app.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_logout_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()

AppFactory = Callable[..., FlaskClient]


web_capture = web_fixtures.web_capture
redis_spans = web_fixtures.redis_spans


@pytest.fixture
def flask_app(web_capture: WebCapture) -> Iterator[AppFactory]:
    """``flask_app(url, **TOKEN_BLACKLIST overrides)`` -> a test client of a new app
    instance (its own client, built from the settings on first use)."""
    apps: list[Any] = []
    secret_key = secrets.token_hex(32)  # instances of one test accept each other's tokens

    def make(url: str, **settings: Any) -> FlaskClient:
        options = {"trace_round_trips": True, **settings.pop("CLIENT_OPTIONS", {})}
        app = example.create_app(
            {"REDIS_URL": url, "SOCKET_TIMEOUT": 2, "CLIENT_OPTIONS": options, **settings},
            tracer_provider=web_capture.tracer_provider,
            registry=web_capture.registry,
            logger=web_capture.logger,
            secret_key=secret_key,
        )
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["token-blacklist"].reset()


def url_for(server: RedisServer, user: tuple[str, str] | None = None) -> str:
    credentials = f"{user[0]}:{user[1]}@" if user else ""
    return f"redis://{credentials}{server.host}:{server.port}/0"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(http: FlaskClient, token: str) -> dict[str, Any]:
    """A token's claims, decoded with the app's own key."""
    from flask_jwt_extended import decode_token

    with http.application.app_context():
        claims: dict[str, Any] = decode_token(token, allow_expired=True)
        return claims


def jti_hash(http: FlaskClient, token: str) -> str:
    """The hash a token is revoked under (of its jti)."""
    return hash_token(claims_of(http, token)["jti"])


def login_where(http: FlaskClient, user: str, wanted: Callable[[str, str], bool]) -> dict[str, str]:
    """Log in until the pair's jti hashes satisfy ``wanted(access_hash, refresh_hash)``."""
    while True:
        pair: dict[str, str] = http.post("/login", json={"user": user}).get_json()
        if wanted(jti_hash(http, pair["access_token"]), jti_hash(http, pair["refresh_token"])):
            return pair
