"""The instrumented peer: the observable logout an application writes without this module.

A redis-py pipeline of ``SET key 1 EX ttl`` on a client instrumented by
``opentelemetry-instrumentation-redis`` (one CLIENT span per pipeline), under the
application's own span, a Prometheus counter per outcome and one structlog event at info.
It tells less than the module (no per-token failure reasons, no partial-failure status on
the span), and the module is held to costing at most half of it.

Needs ``opentelemetry-instrumentation-redis`` (in the ``perf`` and ``test`` extras); without
it the peer rows are left out of the report.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.asyncio
from prometheus_client import CollectorRegistry, Counter

from .cases import PREFIX, TTL, logout_pairs
from .setups import json_logger, sdk_provider
from .timing import Case

__all__ = ["available", "peer_cases"]


def available() -> bool:
    return importlib.util.find_spec("opentelemetry.instrumentation.redis") is not None


class _Peer:
    """What the application holds: its tracer, its counter, its logger."""

    def __init__(self) -> None:
        self.provider = sdk_provider()
        self.tracer = self.provider.get_tracer("app")
        self.tokens = Counter(
            "app_logout_tokens", "Tokens revoked at logout.", ["outcome"],
            registry=CollectorRegistry(),
        )  # fmt: skip
        self.log = json_logger()

    def record(self, pair: Sequence[str], replies: Sequence[object]) -> None:
        succeeded = sum(1 for reply in replies if reply is True)
        self.tokens.labels(outcome="succeeded").inc(succeeded)
        if succeeded < len(pair):
            self.tokens.labels(outcome="failed").inc(len(pair) - succeeded)
        self.log.info("logout", requested=len(pair), succeeded=succeeded)


def peer_cases(
    url: str, kwargs: dict[str, Any], runner: asyncio.Runner, calls: int, closers: list[Any]
) -> list[Case]:
    """``logout.{sync,async}.peer``: ``calls`` logouts of 2 hashes each."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    peer = _Peer()
    client = redis.Redis.from_url(url, **kwargs)  # its own clients: the module's stay bare
    aclient = runner.run(_async_client(url, kwargs))
    closers.append(client)
    closers.append(lambda: runner.run(aclient.aclose()))
    RedisInstrumentor.instrument_client(client, tracer_provider=peer.provider)
    RedisInstrumentor.instrument_client(aclient, tracer_provider=peer.provider)
    pairs = logout_pairs(calls)

    def sync_call() -> None:
        for pair in pairs:
            with peer.tracer.start_as_current_span("logout"):
                pipe = client.pipeline(transaction=False)
                for token_hash in pair:
                    pipe.set(f"{PREFIX}:{token_hash}", 1, ex=TTL)
                peer.record(pair, pipe.execute(raise_on_error=False))

    async def async_call() -> None:
        for pair in pairs:
            with peer.tracer.start_as_current_span("logout"):
                pipe = aclient.pipeline(transaction=False)
                for token_hash in pair:
                    pipe.set(f"{PREFIX}:{token_hash}", 1, ex=TTL)
                peer.record(pair, await pipe.execute(raise_on_error=False))

    run_async: Callable[[], object] = lambda: runner.run(async_call())  # noqa: E731
    return [
        Case("logout.sync.peer", sync_call, calls),
        Case("logout.async.peer", run_async, calls),
    ]


async def _async_client(url: str, kwargs: dict[str, Any]) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(url, **kwargs)  # built inside the loop that uses it
