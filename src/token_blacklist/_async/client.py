"""The client: the shell around the sans-IO core.

It only moves commands and replies: validation is in :mod:`.._core.validation`, every
decision about replies and retries in :mod:`.._core.protocol` (and :mod:`.._core.subjects`),
the commands in :mod:`.._core.commands`, the wire in the transports and all telemetry in
:mod:`.._observability.telemetry`. This module (``_async``) is the hand-written source; the
blocking client in ``_sync`` is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from typing import Any

import redis.asyncio
from opentelemetry.trace import TracerProvider
from prometheus_client import REGISTRY, CollectorRegistry
from redis.exceptions import ResponseError

from .._cache_link import CachedChecks, CachedReply
from .._cache_links import async_check_cache
from .._cluster import server_map
from .._core.check_cache import CheckCache
from .._core.classify import REDIS_FAILURES
from .._core.commands import Batch, CheckTokenAndSubject, ExistsTokens, ExtendTokens
from .._core.protocol import Reply, answer_check, interpret_check
from .._core.server_version import EXPIRE_OPTIONS, server_version
from .._core.stream import DEFAULT_BATCH_SIZE, StreamTally, check_batch_size
from .._core.subjects import (
    interpret_subject_check,
    plan_revoke_all,
    plan_subject_check,
    revoke_all_protocol,
)
from .._core.validation import BlacklistPlan, TtlSpec, plan_blacklist, plan_check, validate_hash
from .._observability.round_trips import RoundTripTracing
from .._observability.telemetry import BLACKLIST_SPAN, CHECK_SPAN, REVOKE_ALL_SPAN
from .._options import DEFAULT_CHUNK_SIZE, CheckErrorPolicy, ClientCore
from .._transports import AsyncTransport, async_transport_for
from ..errors import UnsupportedServerError
from ..results import BlacklistResult, FailureReason, RevokeAllResult
from .hot import AsyncHotPath, drive

__all__ = ["AsyncTokenBlacklist"]


class AsyncTokenBlacklist:
    """Blacklist token hashes in Redis and check them, with exact failure accounting.

    ``redis_client`` is a :class:`redis.asyncio.Redis`. Keys are ``f"{prefix}:{hash}"``
    written with ``SET key 1 EX ttl``. ``registry`` is the Prometheus registry of the
    metrics (prometheus_client's global ``REGISTRY`` by default; ``None`` means the same, as
    it always did here: unlike in prometheus_client it does not mean "do not register").
    ``tracer_provider`` (OpenTelemetry) and ``logger`` (structlog-style) default to the
    global ones; nothing global is configured.

    ``blacklist_tokens`` never raises for Redis failures: they are in the returned
    :class:`BlacklistResult`. Bad input raises before anything is sent.
    ``on_check_error`` decides what a check answers when Redis fails: ``"raise"``
    (:class:`BlacklistUnavailableError`), ``"deny"`` (fail closed) or ``"allow"`` (fail open).
    ``chunk_size`` commands go in one pipeline; ``retries`` and ``retry_backoff`` bound the
    re-sends of one call (see the README's "Retries and time limits").
    ``fast_path`` (default) packs each chunk of ``SET`` commands into one buffer on the
    client's own pooled connection instead of a redis-py pipeline; replies, errors, retries
    and accounting are the same. ``fast_path=False`` uses redis-py's pipeline.
    redis-py's OpenTelemetry instrumentation cannot see the fast path, so the library makes
    the CLIENT span of each of its round trips itself: with ``trace_round_trips="auto"``
    while redis-py is instrumented, ``True`` always, ``False`` never (and only while the call
    is traced).
    An instance belongs to the event loop of its client: redis.asyncio connections cannot
    be shared across event loops, so create one per loop, typically at application start-up.
    Concurrent calls from tasks of the same loop are fine (the client pools connections).
    """

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        prefix: str = "token_blacklist",
        *,
        registry: CollectorRegistry | None = REGISTRY,
        tracer_provider: TracerProvider | None = None,
        logger: Any = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        retries: int = 2,
        retry_backoff: float = 0.05,
        on_check_error: CheckErrorPolicy = "raise",
        fast_path: bool = True,
        trace_round_trips: RoundTripTracing = "auto",
        check_cache: CheckCache | None = None,
    ) -> None:
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
        spans = self._core.telemetry.round_trip_spans(trace_round_trips, redis_client)
        self._transport = async_transport_for(redis_client, fast_path=fast_path, spans=spans)
        self._client = redis_client
        self._server_checked = False  # is the server Redis 7.0 or later? (asked once)
        # A cluster's nodes fail one by one: the core must not take one for all of Redis.
        self._server_of = server_map(self._transport, self._core.key_prefix)
        self._transport = async_check_cache(
            self._transport, redis_client, check_cache,
            prefix=self._core.key_prefix, registry=registry, logger=logger,
        )  # fmt: skip
        self._cached_checks: CachedChecks | None = getattr(self._transport, "cached_checks", None)
        self._hot = AsyncHotPath(self._core, self._transport, self._server_of)
        # Until the server says it is 7.0 or later, the protocols' round trips (not the hot
        # path's first chunk, a SET NX) go through the guard that asks before EXPIRE GT.
        self._hot._transport = AsyncFirstExtension(self, self._transport)

    async def aclose(self) -> None:
        """Stop the ``check_cache`` link (if any); the Redis client stays open (it is yours)."""
        close = getattr(self._transport, "aclose", None)
        if close is not None:
            await close()

    async def blacklist_tokens(self, token_hashes: Iterable[str], ttl: TtlSpec) -> BlacklistResult:
        """Write every hash with ``ttl`` (seconds, or a mapping hash -> seconds).

        Returns the exact outcome; see :class:`BlacklistResult` for the guarantee. Raises
        :class:`InvalidTokenHash` or :class:`TypeError` before sending anything when the
        input is not valid. Empty input returns an ok result without a round trip.
        """
        core = self._core
        started = time.perf_counter()
        if self._hot.wire() is not None:  # nothing needs the call's span current
            return await self._hot.blacklist(token_hashes, ttl, started)
        with core.telemetry.span(BLACKLIST_SPAN, {}) as span:
            try:
                plan = plan_blacklist(token_hashes, ttl)
            except (TypeError, ValueError) as error:
                core.telemetry.record_rejected("blacklist", error, span)
                raise
            span.set_attribute("token_blacklist.requested", len(plan.hashes))
            result = await self._blacklist(plan)
            core.telemetry.record_blacklist(span, result, time.perf_counter() - started)
        return result

    async def blacklist_stream(
        self, token_hashes: Iterable[str], ttl: TtlSpec, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> BlacklistResult:
        """Write every hash of an iterable, ``batch_size`` at a time, without holding it all.

        For inputs too large to materialise (a generator over millions of hashes): each
        batch is validated, de-duplicated and sent like one :meth:`blacklist_tokens` call,
        and the batches' outcomes are summed into one :class:`BlacklistResult` (one span,
        one log event). Unlike :meth:`blacklist_tokens`, duplicates are only removed within
        a batch (one repeated across batches counts once per batch), and invalid input in a
        later batch raises after the earlier batches were written: the exception's
        ``partial_result`` says what they achieved (an :class:`InvalidInput` or an
        :class:`InvalidInputType` for bad items, a :class:`BlacklistStreamError` when the
        iterable itself raised). When everything fails, ``failures`` holds every hash:
        about 150 bytes each, so 1 M failures take roughly 150 MB.
        Once Redis is plainly down (as in :meth:`blacklist_tokens`), the remaining batches
        are read, validated and reported failed without being sent.
        """
        core = self._core
        check_batch_size(batch_size)
        started = time.perf_counter()
        tally = StreamTally()
        with core.telemetry.span(BLACKLIST_SPAN, {"token_blacklist.stream": True}) as span:
            try:
                plans = tally.plans_to_send(token_hashes, ttl, batch_size, core.chunk_size)
                for plan in plans:
                    tally.add(await self._blacklist(plan, tally.servers_down))
            except UnsupportedServerError:
                raise  # the server, not the input: as from blacklist_tokens
            except Exception as error:
                elapsed = time.perf_counter() - started
                core.telemetry.record_interrupted(span, error, tally.result(), elapsed)
                raise tally.interrupted(error)  # noqa: B904 - it names its own cause
            result = tally.result()
            core.telemetry.record_blacklist(span, result, time.perf_counter() - started)
        return result

    async def is_blacklisted(
        self, token_hash: str, *, subject: str | None = None, issued_at: float | None = None
    ) -> bool:
        """Whether ``token_hash`` is blacklisted (subject to the ``on_check_error`` policy).

        With ``subject`` and ``issued_at`` (the token's ``sub`` and ``iat``), a token issued
        before the subject's :meth:`revoke_all` not-before counts as blacklisted too; both
        are read in one round trip.
        """
        core = self._core
        started = time.perf_counter()
        cached = self._cached_checks
        if cached is not None and subject is None and type(token_hash) is str:
            # Only a validated hash was ever stored: a hit needs no validation.
            answer = cached.hit(core.key_prefix + token_hash)
            if answer is not None:
                core.telemetry.finish_cached_check(answer, started)
                return answer
        wire = self._hot.wire()
        if wire is not None:  # nothing needs the call's span current
            return await self._hot.check(wire, token_hash, subject, issued_at, started)
        with core.telemetry.span(CHECK_SPAN, {}) as span:
            try:
                hashes = [validate_hash(token_hash)]
                check = plan_subject_check(core.key_prefix, subject, issued_at)
            except (TypeError, ValueError) as error:
                core.telemetry.record_rejected("check", error, span)
                raise
            token_key = core.key_prefix + hashes[0]
            subject_revoked: bool | None = None
            if check is None:
                reply = await self._transport.round_trip(ExistsTokens([token_key]))
                outcome = interpret_check(hashes, reply)
                if isinstance(reply, CachedReply):
                    span.set_attribute("token_blacklist.check.cached", True)
            else:
                commands = CheckTokenAndSubject(token_key, check.subject_key)
                reply = await self._transport.round_trip(commands)
                outcome, subject_revoked = interpret_subject_check(hashes[0], check, reply)
                if isinstance(reply, CachedReply):
                    span.set_attribute("token_blacklist.check.cached", True)
            core.telemetry.record_check(
                span,
                1,
                outcome,
                core.on_check_error,
                time.perf_counter() - started,
                subject_revoked=subject_revoked,
            )
        return bool(answer_check(outcome, core.on_check_error))

    async def revoke_all(
        self, subject: str, ttl: int, *, clock_skew: float = 1.0
    ) -> RevokeAllResult:
        """Revoke every token of ``subject`` issued before now ("log out everywhere").

        Stores the subject's not-before, ``ceil(now + clock_skew)``, for ``ttl`` seconds (the
        longest lifetime of the subject's tokens); it never moves an existing one backwards.
        Checks that pass ``subject``/``issued_at`` honour it. Redis failures are in the
        returned :class:`RevokeAllResult`, never raised; bad input raises before sending.
        """
        core = self._core
        started = time.perf_counter()
        with core.telemetry.span(REVOKE_ALL_SPAN, {}) as span:
            try:
                plan = plan_revoke_all(
                    core.key_prefix, subject, ttl, now=time.time(), clock_skew=clock_skew
                )
            except (TypeError, ValueError) as error:
                core.telemetry.record_rejected("revoke_all", error, span)
                raise
            await self._require_expire_options("revoke_all", span)
            result = await drive(revoke_all_protocol(plan, core.retry), self._transport)
            core.telemetry.record_revoke_all(span, result, time.perf_counter() - started)
        return result

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
                keys = [core.key_prefix + h for h in hashes]
                reply = await self._transport.round_trip(ExistsTokens(keys))
                if isinstance(reply, CachedReply):
                    span.set_attribute("token_blacklist.check.cached", True)
            outcome = interpret_check(hashes, reply)
            core.telemetry.record_check(
                span, len(hashes), outcome, core.on_check_error, time.perf_counter() - started
            )
        return answer_check(outcome, core.on_check_error)

    async def require_supported_server(self) -> None:
        """Raise :class:`UnsupportedServerError` now if the server is older than Redis 7.0,
        rather than at the first ``revoke_all`` or re-revocation (one ``INFO server``; once
        it has said 7.0 or later, never again). For a start-up check; optional."""
        await self._require_expire_options("blacklist", None)

    async def _require_expire_options(self, call: str, span: Any) -> None:
        """Before the first ``revoke_all`` or re-revocation: a server older than Redis 7.0
        has no ``EXPIRE ... NX|GT`` (nor ``#!lua`` scripts), so a re-revocation could not
        keep the longer expiry, nor a retry tell its own earlier write: refuse with
        :class:`UnsupportedServerError` instead, before that round trip. A server that
        cannot be asked now is asked again next time; one that refuses ``INFO`` (an ACL)
        is taken as it comes."""
        if self._server_checked:
            return
        try:
            info = await self._client.info("server")
        except REDIS_FAILURES as error:
            if isinstance(error, ResponseError):  # INFO denied: take the server as it comes
                self._server_checked = True
                self._hot._transport = self._transport
            return
        found = server_version(info) if isinstance(info, dict) else None
        if found is not None and not found.at_least(EXPIRE_OPTIONS):
            refused = UnsupportedServerError(call, EXPIRE_OPTIONS, str(found))
            self._core.telemetry.record_rejected(call, refused, span)
            raise refused
        self._server_checked = True
        self._hot._transport = self._transport  # no more asking: see AsyncFirstExtension

    async def _blacklist(
        self, plan: BlacklistPlan, down: dict[Hashable, FailureReason] | None = None
    ) -> BlacklistResult:
        return await self._hot.run(plan, down=down)

    async def _blacklist_batch(
        self, plan: BlacklistPlan, down: dict[Hashable, FailureReason]
    ) -> BlacklistResult:
        """One batch of a stream the caller cuts itself (``token-blacklist revoke``, which
        records each batch as it lands): a plan :class:`StreamTally` validated, sent as
        :meth:`blacklist_tokens` would send it, with its span, metrics and log event;
        ``down`` carries the servers found down from batch to batch."""
        core = self._core
        started = time.perf_counter()
        requested = {"token_blacklist.requested": len(plan.hashes)}
        with core.telemetry.span(BLACKLIST_SPAN, requested) as span:
            result = await self._blacklist(plan, down)
            core.telemetry.record_blacklist(span, result, time.perf_counter() - started)
        return result


class AsyncFirstExtension:
    """Until the server is known to be 7.0 or later: asks it (once) right before the first
    re-revocation (``EXPIRE ... GT``), the only write of ``blacklist_tokens`` that needs 7.0."""

    def __init__(self, owner: AsyncTokenBlacklist, transport: AsyncTransport) -> None:
        self._owner = owner
        self._transport = transport

    async def round_trip(self, commands: Batch) -> Reply:
        if isinstance(commands, ExtendTokens):
            await self._owner._require_expire_options("blacklist", None)
        return await self._transport.round_trip(commands)
