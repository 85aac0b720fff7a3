"""A FastAPI app whose logout is traced end to end: POST /logout -> token_blacklist span ->
Redis round trips, with log lines carrying the same trace id.

Run the self-contained demo (starts a private redis-server, logs in, logs out, reuses the
token and prints the trace and the log lines):

    python examples/fastapi_logout_app.py

Serve it for real, several workers adding up their metrics at /metrics (uvicorn, or
gunicorn with uvicorn workers; see the README):

    export PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) REDIS_URL=redis://localhost:6379/0
    uvicorn --workers 2 --factory examples.fastapi_logout_app:app_from_env

Needs ``pip install 'token-blacklist[test]'`` (fastapi, httpx, PyJWT, the OpenTelemetry SDK
and the FastAPI/Redis instrumentations). The tests in ``tests/web`` drive this very app.
"""

import asyncio
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

import jwt
import redis.asyncio
import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import TracerProvider
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel

from token_blacklist import AsyncTokenBlacklist, add_trace_context
from token_blacklist.fastapi_auth import BlacklistAuth, LogoutPolicy, PresentedToken

ACCESS_LIFETIME = 15 * 60
REFRESH_LIFETIME = 7 * 24 * 3600
VERIFY_LEEWAY = 5
"""Seconds of skew PyJWT tolerates on exp/iat; the blacklist keeps entries that much longer."""


class Tokens:
    """HS256 tokens for the demo (a real app would use its identity provider's keys)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def issue(self, sub: str, kind: str, *, iat: int | None = None, lifetime: int = 0) -> str:
        issued = int(time.time()) if iat is None else iat
        lifetime = lifetime or (ACCESS_LIFETIME if kind == "access" else REFRESH_LIFETIME)
        claims = {
            "sub": sub,
            "typ": kind,
            "iat": issued,
            "exp": issued + lifetime,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> Mapping[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                leeway=VERIFY_LEEWAY,
                options={"require": ["sub", "iat", "exp"]},
            )
        except jwt.InvalidTokenError:
            return None
        return claims


class Login(BaseModel):
    user: str


class Logout(BaseModel):
    refresh_token: str | None = None


class Refresh(BaseModel):
    refresh_token: str


def create_app(
    redis_factory: Callable[[], redis.asyncio.Redis],
    *,
    tokens: Tokens | None = None,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
    logger: Any = None,
    policy: LogoutPolicy | None = None,
    on_check_error: str = "raise",
    fast_path: bool = True,
) -> FastAPI:
    """The app; everything observable is injected so tests can read it."""
    tokens = tokens or Tokens()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = redis_factory()
        # The fast path traces its own Redis round trips; with fast_path=False they are
        # redis-py pipelines, traced by opentelemetry-instrumentation-redis.
        app.state.blacklist = AsyncTokenBlacklist(
            client,
            registry=registry,
            tracer_provider=tracer_provider,
            logger=logger,
            on_check_error=on_check_error,  # type: ignore[arg-type]
            fast_path=fast_path,
        )
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan)
    auth = BlacklistAuth(
        lambda request: request.app.state.blacklist,
        tokens.verify,
        max_token_lifetime=REFRESH_LIFETIME + VERIFY_LEEWAY,
        clock_skew=1.0,
        policy=policy or LogoutPolicy(exp_leeway=VERIFY_LEEWAY),
    )
    log = logger if logger is not None else structlog.get_logger("example.app")
    app.include_router(session_routes(auth, tokens))
    app.include_router(logout_routes(auth, log))
    app.add_api_route(
        "/metrics",
        lambda: Response(exposition(registry), media_type=CONTENT_TYPE_LATEST),
        methods=["GET"],
    )
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider)
    return app


def session_routes(auth: BlacklistAuth, tokens: Tokens) -> APIRouter:
    """Log in (demo: no password), use the access token, refresh it."""
    router = APIRouter()

    @router.post("/login")
    async def login(body: Login) -> dict[str, str]:
        # Demo only: a real app authenticates the user here.
        return {
            "access_token": tokens.issue(body.user, "access"),
            "refresh_token": tokens.issue(body.user, "refresh"),
        }

    @router.get("/me")
    async def me(token: Annotated[PresentedToken, Depends(auth.require)]) -> dict[str, Any]:
        return {"sub": token.claims["sub"]}

    @router.post("/refresh")
    async def refresh(request: Request, body: Refresh) -> dict[str, str]:
        presented = auth.token(body.refresh_token)
        if presented is None or presented.claims.get("typ") != "refresh":
            raise HTTPException(401, "invalid refresh token")
        await auth.check(request, presented)  # revoked, or issued before a revoke_all: 401
        return {"access_token": tokens.issue(presented.claims["sub"], "access")}

    return router


def logout_routes(auth: BlacklistAuth, log: Any) -> APIRouter:
    """Log out (this session's tokens) and log out everywhere (every token of the user)."""
    router = APIRouter()

    @router.post("/logout")
    async def logout(
        request: Request,
        body: Logout,
        token: Annotated[PresentedToken, Depends(auth.presented)],
    ) -> JSONResponse:
        refresh = auth.token(body.refresh_token)
        if refresh is not None and refresh.claims.get("sub") != token.claims.get("sub"):
            raise HTTPException(400, "the refresh token belongs to another subject")
        response = await auth.logout(request, token, refresh)
        log.info("app.logout", status=response.status_code)  # no subject: ids stay out of logs
        return response

    @router.post("/logout-everywhere")
    async def logout_everywhere(
        request: Request, token: Annotated[PresentedToken, Depends(auth.require)]
    ) -> JSONResponse:
        response = await auth.logout_everywhere(request, token)
        log.info("app.logout_everywhere", status=response.status_code)
        return response

    return router


def exposition(registry: CollectorRegistry | None) -> bytes:
    """The metrics text; under several workers (PROMETHEUS_MULTIPROC_DIR set before
    prometheus_client was imported) the sum over every worker's files."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry or REGISTRY)


def app_from_env() -> FastAPI:
    """For uvicorn --factory: Redis from $REDIS_URL, global telemetry."""
    url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    return create_app(lambda: redis.asyncio.Redis.from_url(url, socket_timeout=0.5))


async def _demo() -> None:  # pragma: no cover - run by tests/web/test_example_demo.py
    import httpx
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
        app = create_app(server.async_client, tracer_provider=provider, logger=logger)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
                pair = (await http.post("/login", json={"user": "alice"})).json()
                bearer = {"Authorization": f"Bearer {pair['access_token']}"}
                print("GET /me ->", (await http.get("/me", headers=bearer)).status_code)
                exporter.clear()
                body = {"refresh_token": pair["refresh_token"]}
                answer = await http.post("/logout", json=body, headers=bearer)
                print("POST /logout ->", answer.status_code, answer.json())
                spans = list(exporter.get_finished_spans())
                print("GET /me again ->", (await http.get("/me", headers=bearer)).status_code)
    RedisInstrumentor().uninstrument()
    _print_trace(spans)


def _print_trace(spans: list[Any]) -> None:  # pragma: no cover
    """One line per span, in start order: trace id, then the name indented by depth."""
    by_id = {s.context.span_id: s for s in spans}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        depth, parent = 0, span.parent
        while parent is not None and parent.span_id in by_id:
            depth, parent = depth + 1, by_id[parent.span_id].parent
        print(f"{format(span.context.trace_id, '032x')} {'  ' * depth}{span.name}")


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_demo())
