"""The composed floor: the least hand-written code that does what an observed call does,
as one function, timed in the same rounds as the module.

The floor rows (:mod:`.floor`) time each part alone, hot, thousands of times in a row: a
round trip, a pool cycle, a span, the metrics. Their sum is what a call would cost if the
parts did not slow each other down. In a real call they do: the span, the metrics and the
exemplar run after a blocking round trip, with the caches cooled by the kernel and by
redis-py, and the batch span processor's thread wakes in between. These cases put the same
parts together, with nothing of the module in them, so the module is compared with the
cheapest code that could do its work at all on this machine:

  logout   pool get, 2 ``SET key 1 EX ttl`` packed and sent on the connection, both replies
           read and counted, release; with full telemetry, one SDK span with its 6
           attributes given at creation (started when the call began), 2 counter incs, the
           duration histogram with its trace-id exemplar, the batch-size histogram, a
           structlog call below its level, the span ended
  check    the same with one ``EXISTS``: 3 span attributes of the check, the result and
           operation counters, the duration histogram with its exemplar
  subject  ``EXISTS`` + ``ZSCORE`` in one round trip, 4 span attributes

No validation, no classification of errors, no result object, no retry: a floor, not a
client anyone should use. Each is timed sync and async, full and unconfigured (the subject
check only with full telemetry, as its target).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.asyncio
import structlog
from opentelemetry.trace import Span, SpanKind
from prometheus_client import CollectorRegistry, Counter, Histogram

from .._io import async_hooks, sync_hooks
from .cases import PREFIX, SUBJECT, TTL, FreshPairs, make_hashes
from .setups import FULL, UNCONFIGURED, sdk_provider
from .timing import Case

__all__ = ["composed_cases"]

_SET = b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n$2\r\nEX\r\n$%d\r\n%d\r\n"
_EXISTS = b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n"
_OK = (b"OK", "OK")  # decode_responses or not
_ZSCORE = b"*3\r\n$6\r\nZSCORE\r\n$%d\r\n%s\r\n$3\r\nnbf\r\n"


def _sets(hashes: Sequence[str]) -> bytes:
    ttl = str(TTL).encode()
    return b"".join(
        _SET % (len(key), key, len(ttl), TTL) for key in (f"{PREFIX}:{h}".encode() for h in hashes)
    )


def _exists(key: bytes) -> bytes:
    return _EXISTS % (len(key), key)


class _Observed:
    """The telemetry a hand-written observed call holds: a tracer, pre-bound metrics, a
    logger filtering at info (as :mod:`.setups` configures the module's)."""

    def __init__(self, port: int, provider: Any = None) -> None:
        self.tracer = (provider or sdk_provider()).get_tracer("composed-floor")
        self.base: dict[str, Any] = {
            "db.system.name": "redis", "server.address": "127.0.0.1", "server.port": port,
        }  # fmt: skip
        self.registry = registry = CollectorRegistry()
        tokens = Counter("composed_tokens", "t", ["outcome"], registry=registry)
        self.tokens = tokens.labels("succeeded")
        operations = Counter("composed_operations", "o", ["op", "outcome"], registry=registry)
        self.logout_ok = operations.labels("blacklist", "success")
        self.check_ok = operations.labels("check", "success")
        checks = Counter("composed_checks", "c", ["result"], registry=registry)
        self.not_blacklisted = checks.labels("not_blacklisted")
        self.blacklisted = checks.labels("blacklisted")
        duration = Histogram("composed_duration_seconds", "d", ["op"], registry=registry)
        self.logout_duration = duration.labels("blacklist")
        self.check_duration = duration.labels("check")
        self.batch = Histogram("composed_batch", "b", registry=registry)
        sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the bench
        self.sink = sink
        self.log = structlog.wrap_logger(
            structlog.PrintLogger(sink),
            processors=[structlog.processors.JSONRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            cache_logger_on_first_use=True,
        )

    def span(self, name: str, attributes: dict[str, Any], opened: int) -> Span:
        return self.tracer.start_span(
            name, kind=SpanKind.INTERNAL, attributes={**self.base, **attributes},
            start_time=opened,
        )  # fmt: skip

    def logout(self, requested: int, succeeded: int, opened: int, started: float) -> None:
        span = self.span(
            "token_blacklist.blacklist_tokens",
            {
                "token_blacklist.requested": requested,
                "token_blacklist.succeeded": succeeded,
                "token_blacklist.failed": requested - succeeded,
            },
            opened,
        )
        self.tokens.inc(succeeded)
        self.logout_ok.inc()
        trace_id = format(span.get_span_context().trace_id, "032x")
        self.logout_duration.observe(time.perf_counter() - started, {"trace_id": trace_id})
        self.batch.observe(requested)
        self.log.debug("token_blacklist.blacklisted", requested=requested, succeeded=succeeded)
        span.end()

    def check(self, found: int, opened: int, started: float, subject: bool = False) -> None:
        attributes: dict[str, Any] = {
            "token_blacklist.checked": 1,
            "token_blacklist.blacklisted": found,
            "token_blacklist.check_errors": 0,
        }
        if subject:
            attributes["token_blacklist.subject_revoked"] = False
        span = self.span("token_blacklist.is_blacklisted", attributes, opened)
        (self.blacklisted if found else self.not_blacklisted).inc()
        self.check_ok.inc()
        trace_id = format(span.get_span_context().trace_id, "032x")
        self.check_duration.observe(time.perf_counter() - started, {"trace_id": trace_id})
        span.end()


def composed_cases(  # noqa: PLR0915 - one small function per case, kept together
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, calls: int,
    closers: list[Any], *, provider: Any = None,
) -> list[Case]:  # fmt: skip
    """``composed.{logout,check}.{sync,async}.{full,unconfigured}`` and
    ``composed.subject_check.{sync,async}.full``, ``calls`` calls each (``provider``: the
    tracer provider of the full cases; by default an SDK one exporting to nowhere)."""
    port = int(client.connection_pool.connection_kwargs.get("port", 6379))
    observed = _Observed(port, provider)
    closers.append(observed.sink)
    pool: Any = client.connection_pool
    apool: Any = aclient.connection_pool

    def logout(hashes: Sequence[str], full: bool) -> int:
        opened, started = time.time_ns(), time.perf_counter()
        conn = sync_hooks.get_connection(pool)
        try:
            conn.send_packed_command([_sets(hashes)])
            succeeded = sum(1 for _ in hashes if conn.read_response() in _OK)
        finally:
            pool.release(conn)
        if full:
            observed.logout(len(hashes), succeeded, opened, started)
        return succeeded

    async def alogout(hashes: Sequence[str], full: bool) -> int:
        opened, started = time.time_ns(), time.perf_counter()
        conn = await async_hooks.get_connection(apool)
        try:
            await conn.send_packed_command([_sets(hashes)])
            succeeded = 0
            for _ in hashes:
                succeeded += await conn.read_response() in _OK
        finally:
            await apool.release(conn)
        if full:
            observed.logout(len(hashes), succeeded, opened, started)
        return succeeded

    hashes = make_hashes(calls, salt=1)  # half of them blacklisted by check_cases
    keys = [f"{PREFIX}:{h}".encode() for h in hashes]
    subject_key = f"{PREFIX}:nbf:{hashlib.sha256(SUBJECT.encode()).hexdigest()}".encode()
    zscore = _ZSCORE % (len(subject_key), subject_key)

    def check(key: bytes, full: bool, subject: bool = False) -> bool:
        opened, started = time.time_ns(), time.perf_counter()
        conn = sync_hooks.get_connection(pool)
        try:
            conn.send_packed_command([_exists(key) + zscore if subject else _exists(key)])
            found = conn.read_response()
            if subject:
                conn.read_response()
        finally:
            pool.release(conn)
        if full:
            observed.check(found, opened, started, subject)
        return bool(found)

    async def acheck(key: bytes, full: bool, subject: bool = False) -> bool:
        opened, started = time.time_ns(), time.perf_counter()
        conn = await async_hooks.get_connection(apool)
        try:
            await conn.send_packed_command([_exists(key) + zscore if subject else _exists(key)])
            found = await conn.read_response()
            if subject:
                await conn.read_response()
        finally:
            await apool.release(conn)
        if full:
            observed.check(found, opened, started, subject)
        return bool(found)

    cases: list[Case] = []
    for setup in (FULL, UNCONFIGURED):
        full = setup == FULL
        fresh, afresh = FreshPairs(calls), FreshPairs(calls)

        def sync_logout(fresh: FreshPairs = fresh, full: bool = full) -> None:
            for pair in fresh.pairs:
                logout(pair, full)

        async def async_logout(afresh: FreshPairs = afresh, full: bool = full) -> None:
            for pair in afresh.pairs:
                await alogout(pair, full)

        def sync_check(full: bool = full) -> None:
            for key in keys:
                check(key, full)

        async def async_check(full: bool = full) -> None:
            for key in keys:
                await acheck(key, full)

        cases += [
            Case(f"composed.logout.sync.{setup}", sync_logout, calls, fresh.renew),
            Case(f"composed.logout.async.{setup}", _in(runner, async_logout), calls, afresh.renew),
            Case(f"composed.check.sync.{setup}", sync_check, calls),
            Case(f"composed.check.async.{setup}", _in(runner, async_check), calls),
        ]

    def sync_subject() -> None:
        for key in keys:
            check(key, True, subject=True)

    async def async_subject() -> None:
        for key in keys:
            await acheck(key, True, subject=True)

    cases += [
        Case("composed.subject_check.sync.full", sync_subject, calls),
        Case("composed.subject_check.async.full", _in(runner, async_subject), calls),
    ]
    return cases


def _in(runner: asyncio.Runner, make: Callable[[], Any]) -> Callable[[], object]:
    return lambda: runner.run(make())
