"""AsyncTokenBlacklist: the asyncio shell around the sans-IO core.

The same shell as :mod:`.client` with ``await``; keep the two in lockstep (the integration
tests run every case against both).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Iterable
from typing import Any

import redis.asyncio
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from .options import DEFAULT_CHUNK_SIZE, CheckErrorPolicy, ClientCore
from .plan import TtlSpec, plan_blacklist, plan_check, validate_hash
from .protocol import Reply, SendChunk, answer_check, blacklist_protocol, interpret_check
from .result import BlacklistResult
from .telemetry import BLACKLIST_SPAN, CHECK_SPAN
from .transport import async_transport_for

__all__ = ["AsyncTokenBlacklist"]


class AsyncTokenBlacklist:
    """Blacklist token hashes in Redis and check them, with exact failure accounting.

    ``redis_client`` is a :class:`redis.asyncio.Redis`. An instance belongs to the event loop
    of its client: redis.asyncio connections cannot be shared across event loops, so create
    one per loop, typically at application start-up. Keys are ``f"{prefix}:{hash}"``
    written with ``SET key 1 EX ttl``. ``registry`` (Prometheus), ``tracer_provider``
    (OpenTelemetry) and ``logger`` (structlog-style) default to the global ones; nothing
    global is configured.

    ``blacklist_tokens`` never raises for Redis failures: they are in the returned
    :class:`BlacklistResult`. Bad input raises before anything is sent.
    ``on_check_error`` decides what a check answers when Redis fails: ``"raise"``
    (:class:`BlacklistUnavailableError`), ``"deny"`` (fail closed) or ``"allow"`` (fail open).
    ``chunk_size`` commands go in one pipeline; ``retries`` and ``retry_backoff`` bound the
    re-sends of one call (see the README's "Retries and time limits").
    ``fast_path`` (default) packs each chunk of ``SET`` commands into one buffer on the
    client's own pooled connection instead of a redis-py pipeline; replies, errors, retries
    and accounting are the same. ``fast_path=False`` uses the pipeline (for instance to keep
    redis-py instrumentation that only sees pipelines).
    Concurrent calls from tasks of the same loop are fine (the client pools connections).
    """

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        prefix: str = "token_blacklist",
        *,
        registry: CollectorRegistry | None = None,
        tracer_provider: TracerProvider | None = None,
        logger: Any = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        retries: int = 2,
        retry_backoff: float = 0.05,
        on_check_error: CheckErrorPolicy = "raise",
        fast_path: bool = True,
    ) -> None:
        self._transport = async_transport_for(redis_client, fast_path=fast_path)
        self._core = ClientCore.build(
            redis_client,
            prefix=prefix,
            registry=registry,
            tracer_provider=tracer_provider,
            logger=logger,
            chunk_size=chunk_size,
            retries=retries,
            retry_backoff=retry_backoff,
            on_check_error=on_check_error,
        )

    async def blacklist_tokens(self, token_hashes: Iterable[str], ttl: TtlSpec) -> BlacklistResult:
        """Write every hash with ``ttl`` (seconds, or a mapping hash -> seconds).

        Returns the exact outcome; see :class:`BlacklistResult` for the guarantee. Raises
        :class:`InvalidTokenHash` or :class:`TypeError` before sending anything when the
        input is not valid. Empty input returns an ok result without a round trip.
        """
        core = self._core
        started = time.perf_counter()
        with core.telemetry.span(BLACKLIST_SPAN, {}) as span:
            try:
                plan = plan_blacklist(token_hashes, ttl)
            except (TypeError, ValueError) as error:
                core.telemetry.record_rejected("blacklist", error, span)
                raise
            span.set_attribute("token_blacklist.requested", len(plan.hashes))
            result = await self._drive(blacklist_protocol(plan, core.chunk_size, core.retry))
            core.telemetry.record_blacklist(span, result, time.perf_counter() - started)
        return result

    async def is_blacklisted(self, token_hash: str) -> bool:
        """Whether ``token_hash`` is blacklisted (subject to the ``on_check_error`` policy)."""
        core = self._core
        started = time.perf_counter()
        with core.telemetry.span(CHECK_SPAN, {}) as span:
            try:
                hashes = [validate_hash(token_hash)]
            except (TypeError, ValueError) as error:
                core.telemetry.record_rejected("check", error, span)
                raise
            reply = await self._transport.send_exists([core.key_prefix + hashes[0]])
            outcome = interpret_check(hashes, reply)
            core.telemetry.record_check(
                span, 1, outcome, core.on_check_error, time.perf_counter() - started
            )
        return bool(answer_check(outcome, core.on_check_error))

    async def blacklisted(self, token_hashes: Iterable[str]) -> set[str]:
        """The subset of ``token_hashes`` that is blacklisted (one pipeline of ``EXISTS``)."""
        core = self._core
        started = time.perf_counter()
        with core.telemetry.span(CHECK_SPAN, {}) as span:
            try:
                hashes = plan_check(token_hashes)
            except (TypeError, ValueError) as error:
                core.telemetry.record_rejected("check", error, span)
                raise
            reply: Reply = []
            if hashes:
                reply = await self._transport.send_exists([core.key_prefix + h for h in hashes])
            outcome = interpret_check(hashes, reply)
            core.telemetry.record_check(
                span, len(hashes), outcome, core.on_check_error, time.perf_counter() - started
            )
        return answer_check(outcome, core.on_check_error)

    async def _drive(
        self, protocol: Generator[SendChunk, Reply, BlacklistResult]
    ) -> BlacklistResult:
        prefix = self._core.key_prefix
        try:
            request = next(protocol)
            while True:
                if request.delay:
                    await asyncio.sleep(request.delay)
                keys = [prefix + token_hash for token_hash in request.hashes]
                request = protocol.send(await self._transport.send_sets(keys, request.ttls))
        except StopIteration as stop:
            result: BlacklistResult = stop.value
            return result
