"""A Flask-JWT-Extended app whose tokens are checked against the blacklist on every request,
with a logout traced end to end: POST /logout -> token_blacklist span -> Redis round trip,
and log lines carrying the same trace id.

Run the self-contained demo (starts a private redis-server, logs in, logs out, reuses the
token, prints the trace and the log lines):

    python examples/flask_logout_app.py

Serve it for real:

    export REDIS_URL=redis://localhost:6379/0 JWT_SECRET_KEY=$(openssl rand -hex 32)
    flask --app 'examples.flask_logout_app:create_app()' run

Needs ``pip install 'token-blacklist[flask,test]'`` (Flask-JWT-Extended, the OpenTelemetry
SDK and the Flask/Redis instrumentations). The tests in ``tests/flask_jwt`` drive this very app.
"""

import datetime
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from flask import Flask, Response, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from token_blacklist import add_trace_context
from token_blacklist.flask_jwt import FlaskBlacklist

ACCESS_LIFETIME = 15 * 60
REFRESH_LIFETIME = 7 * 24 * 3600
VERIFY_LEEWAY = 5
"""Seconds of skew accepted on exp/iat; the blacklist keeps entries that much longer."""


def create_app(
    blacklist_settings: Mapping[str, Any] | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
    logger: Any = None,
    secret_key: str | None = None,
) -> Flask:
    """The app; everything observable is injected so tests can read it. Instances given
    the same ``secret_key`` (or $JWT_SECRET_KEY) accept each other's tokens."""
    settings = dict(blacklist_settings or {})
    telemetry = {"registry": registry, "tracer_provider": tracer_provider, "logger": logger}
    app = Flask(__name__)
    app.config.update(
        JWT_SECRET_KEY=secret_key or os.environ.get("JWT_SECRET_KEY") or secrets.token_hex(32),
        JWT_ACCESS_TOKEN_EXPIRES=datetime.timedelta(seconds=ACCESS_LIFETIME),
        JWT_REFRESH_TOKEN_EXPIRES=datetime.timedelta(seconds=REFRESH_LIFETIME),
        JWT_DECODE_LEEWAY=VERIFY_LEEWAY,
        TOKEN_BLACKLIST={
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
            "ON_CHECK_ERROR": "raise",
            **settings,
            "CLIENT_OPTIONS": {**telemetry, **settings.get("CLIENT_OPTIONS", {})},
        },
    )
    jwt = JWTManager(app)
    revocations = FlaskBlacklist(app)
    jwt.token_in_blocklist_loader(revocations.is_revoked)  # the one line that checks tokens

    log = logger if logger is not None else structlog.get_logger("example.flask")
    session_routes(app, revocations)
    logout_routes(app, revocations, log)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry or REGISTRY), content_type=CONTENT_TYPE_LATEST)

    FlaskInstrumentor.instrument_app(app, tracer_provider=tracer_provider)
    return app


def session_routes(app: Flask, revocations: FlaskBlacklist) -> None:
    """Log in (demo: no password), use the access token, refresh with rotation."""

    @app.post("/login")
    def login() -> dict[str, str]:
        # Demo only: a real app authenticates the user here.
        user = str((request.get_json(silent=True) or {}).get("user", ""))
        return {
            "access_token": create_access_token(identity=user),
            "refresh_token": create_refresh_token(identity=user),
        }

    @app.get("/me")
    @jwt_required()
    def me() -> dict[str, Any]:
        return {"sub": get_jwt_identity()}

    @app.get("/me-async")
    @jwt_required()
    async def me_async() -> dict[str, Any]:
        return {"sub": get_jwt_identity()}

    @app.post("/refresh")
    @jwt_required(refresh=True)  # a revoked refresh token is refused here (401)
    def refresh() -> Any:
        # Rotation: the old refresh token is revoked before new ones are handed out.
        refused = revocations.revoke(get_jwt())
        if refused is not None:
            return refused
        identity = get_jwt_identity()
        return {
            "access_token": create_access_token(identity=identity),
            "refresh_token": create_refresh_token(identity=identity),
        }


def logout_routes(app: Flask, revocations: FlaskBlacklist, log: Any) -> None:
    """Log out (this session's tokens) and log out everywhere (every token of the user)."""

    @app.post("/logout")
    @jwt_required(skip_revocation_check=True)  # a retry after a 503 must get through
    def logout() -> Response:
        refresh = revocations.refresh_claims(request.get_json(silent=True))
        answer = revocations.logout(get_jwt(), refresh)
        log.info("app.logout", status=answer.status_code)  # no subject: ids stay out of logs
        return answer

    @app.post("/logout-everywhere")
    @jwt_required()
    def logout_everywhere() -> Response:
        answer = revocations.logout_everywhere(get_jwt())
        log.info("app.logout_everywhere", status=answer.status_code)
        return answer


def _demo() -> None:  # pragma: no cover - run by tests/flask_jwt/test_flask_example_demo.py
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from token_blacklist.server import RedisServer

    exporter = InMemorySpanExporter()
    provider = SdkTracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    logger = structlog.wrap_logger(
        structlog.PrintLogger(sys.stdout),
        processors=[add_trace_context, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    with RedisServer() as server:
        app = create_app({"REDIS_URL": server.url}, tracer_provider=provider, logger=logger)
        http = app.test_client()
        pair = http.post("/login", json={"user": "alice"}).get_json()
        bearer = {"Authorization": f"Bearer {pair['access_token']}"}
        print("GET /me ->", http.get("/me", headers=bearer).status_code)
        exporter.clear()
        answer = http.post("/logout", json={"refresh_token": pair["refresh_token"]}, headers=bearer)
        print("POST /logout ->", answer.status_code, answer.get_json())
        spans = list(exporter.get_finished_spans())
        print("GET /me again ->", http.get("/me", headers=bearer).status_code)
    RedisInstrumentor().uninstrument()
    _print_trace(spans)


def _print_trace(spans: list[Any]) -> None:  # pragma: no cover
    """One line per span: trace id, then the name indented by depth."""
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        depth, parent = 0, span.parent
        while parent is not None and parent.span_id in by_id:
            depth, parent = depth + 1, by_id[parent.span_id].parent
        print(f"{format(span.context.trace_id, '032x')} {'  ' * depth}{span.name}")


if __name__ == "__main__":  # pragma: no cover
    _demo()
