"""The example FastAPI app, driven in-process over httpx's ASGI transport against real
redis-server processes, with every span and log line captured."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import structlog

from token_blacklist import add_trace_context, hash_token
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_logout_app.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_logout_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the body models through it
    spec.loader.exec_module(module)
    return module


example = _load_example()


class WebCapture(TelemetryCapture):
    """TelemetryCapture whose logger also adds the current trace context, as an
    application's structlog configuration would (library and app events alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.logger = structlog.wrap_logger(
            None,
            processors=[add_trace_context, self._record],
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
            cache_logger_on_first_use=False,
        )


@asynccontextmanager
async def running_app(
    server: RedisServer, capture: TelemetryCapture, tokens: Any, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """One app instance (its own Redis client and AsyncTokenBlacklist) behind an httpx client."""
    client_kwargs = options.pop("client_kwargs", {})
    app = example.create_app(
        lambda: server.async_client(socket_timeout=2, **client_kwargs),
        tokens=tokens,
        tracer_provider=capture.tracer_provider,
        registry=capture.registry,
        logger=capture.logger,
        **options,
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://app")
        )
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue_where(tokens: Any, sub: str, kind: str, wanted: Callable[[str], bool]) -> str:
    """A token whose hash satisfies ``wanted`` (e.g. falls inside an ACL key pattern)."""
    while True:
        token: str = tokens.issue(sub, kind)
        if wanted(hash_token(token)):
            return token
