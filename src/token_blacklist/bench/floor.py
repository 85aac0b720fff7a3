"""The floor of a logout and of a check on this machine, measured in the same rounds.

The cases of ``shared/bench/floor.py``, each timed per call like the logout cases:

  socket-rt     2 ``SET key 1 EX ttl`` packed by hand on a raw socket (no redis-py): the wire
                and Redis alone (plain ``redis://`` without a password only)
  conn-rt       the same on a redis-py connection (``send_packed_command`` +
                ``read_response``), no pool, no retry: what a fast path pays for the wire
  pool          ``connection_pool.get_connection()`` + ``release()``, once
  sdk-span      one sampled SDK span (batch processor, no-op exporter), 6 attributes given
                at creation, ended
  metrics       3 pre-bound counter incs + 2 histogram observes (prometheus_client)
  log-filtered  a structlog call below the configured level (the success event at debug)
  cache-hit     the least a check answered from memory does: validate the hash, an LRU
                lookup and a freshness test, the cache's hit counter and a check's metrics
                (2 counter incs + 1 histogram observe); with sdk-span, a full-telemetry hit

A module's own work (validation, the decision core, the result) comes on top of
:func:`floors`: conn-rt + pool for an unconfigured logout, plus span, metrics and the
filtered log call with full telemetry.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

from .._core.validation import validate_hash
from .._io.sync_hooks import get_connection
from .._observability.metrics import incrementer
from .cases import PREFIX, TTL
from .setups import sdk_provider
from .timing import Case

__all__ = ["FLOOR_CASES", "floor_cases", "floors"]

FLOOR_CASES = (
    "socket-rt", "conn-rt", "pool", "sdk-span", "metrics", "log-filtered", "cache-hit",
)  # fmt: skip


def _packed(keys: list[str]) -> bytes:
    return "".join(
        f"*5\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$1\r\n1\r\n$2\r\nEX\r\n${len(str(TTL))}\r\n{TTL}\r\n"
        for k in keys
    ).encode()


def _repeat(call: Callable[[], object], calls: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(calls):
            call()

    return run


def _raw_socket(url: str) -> socket.socket | None:
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.password or os.environ.get("REDIS_PASSWORD"):
        return None  # TLS, a Unix socket or AUTH: no raw-socket row
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _cache_hit(registry: CollectorRegistry) -> Callable[[], None]:
    """The least a cached hit does: validate the hash (bad input is refused before any
    answer), look the key up in an LRU and check the link's freshness, and the four
    updates the issue's telemetry asks of every check (the cache's hit counter, the
    check-result and operation counters, the duration histogram). No call frame of the
    module around it, no lock, no span."""
    hit_hash = "ab" * 32
    lru: OrderedDict[str, int] = OrderedDict({f"{PREFIX}:{hit_hash}": 1})
    fresh_as_of = time.monotonic() + 3600.0
    # The counters incremented as the library's hit does (``metrics.incrementer``).
    cache_hits = incrementer(
        Counter("floor_cache", "h", ["result"], registry=registry).labels("hit")
    )
    check_results = Counter("floor_check_results", "r", ["result"], registry=registry)
    blacklisted = incrementer(check_results.labels("blacklisted"))
    check_ops = incrementer(
        Counter("floor_check_ops", "o", ["outcome"], registry=registry).labels("success")
    )
    check_duration = Histogram("floor_check_seconds", "d", registry=registry)

    def cache_hit() -> None:
        key = PREFIX + ":" + validate_hash(hit_hash)
        if time.monotonic() - fresh_as_of < 1.0 and lru.get(key) is not None:
            lru.move_to_end(key)
        cache_hits(1)
        blacklisted(1)
        check_ops(1)
        check_duration.observe(0.000001)

    return cache_hit


def floor_cases(
    client: redis.Redis, url: str, kwargs: dict[str, Any], calls: int, closers: list[Any]
) -> list[Case]:
    """The floor rows as cases of ``calls`` calls each; what to close goes to ``closers``."""
    keys = [f"{PREFIX}:floor:{i:064x}" for i in range(2)]
    packed = _packed(keys)
    cases: list[Case] = []

    sock = _raw_socket(url)
    if sock is not None:
        closers.append(sock)

        def socket_rt() -> None:
            sock.sendall(packed)
            got = b""
            while got.count(b"\r\n") < len(keys):
                got += sock.recv(65536)

        cases.append(Case("floor.socket-rt", _repeat(socket_rt, calls), calls))

    own = redis.Redis.from_url(url, **kwargs)  # its connection never goes back to a pool
    closers.append(own)
    conn: Any = get_connection(own.connection_pool)
    conn.connect()

    def conn_rt() -> None:
        conn.send_packed_command([packed])
        for _ in keys:
            conn.read_response()

    pool: Any = client.connection_pool

    def pool_cycle() -> None:
        pool.release(get_connection(pool))

    tracer = sdk_provider().get_tracer("floor")
    attributes: dict[str, str | int] = {
        "db.system.name": "redis",
        "server.address": "127.0.0.1",
        "server.port": 6379,
        "token_blacklist.requested": 2,
        "token_blacklist.succeeded": 2,
        "token_blacklist.failed": 0,
    }

    def sdk_span() -> None:
        tracer.start_span("token_blacklist.blacklist_tokens", attributes=attributes).end()

    registry = CollectorRegistry()
    tokens = Counter("floor_tokens", "t", ["outcome"], registry=registry).labels("succeeded")
    operations = Counter("floor_operations", "o", ["outcome"], registry=registry).labels("success")
    checks = Counter("floor_checks", "c", ["result"], registry=registry).labels("ok")
    duration = Histogram("floor_duration_seconds", "d", registry=registry)
    batch = Histogram("floor_batch", "b", registry=registry)

    def metrics() -> None:
        tokens.inc(2)
        operations.inc()
        checks.inc(0)
        duration.observe(0.0001)
        batch.observe(2)

    null_sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the logger
    closers.append(null_sink)
    log = structlog.wrap_logger(
        structlog.PrintLogger(null_sink),
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )

    def log_filtered() -> None:
        log.debug("token_blacklist.blacklisted", requested=2, succeeded=2)

    cases += [
        Case("floor.cache-hit", _repeat(_cache_hit(registry), calls), calls),
        Case("floor.conn-rt", _repeat(conn_rt, calls), calls),
        Case("floor.pool", _repeat(pool_cycle, calls), calls),
        Case("floor.sdk-span", _repeat(sdk_span, calls), calls),
        Case("floor.metrics", _repeat(metrics, calls), calls),
        Case("floor.log-filtered", _repeat(log_filtered, calls), calls),
    ]
    return cases


def floors(cases: dict[str, Any], key: str) -> dict[str, float | None]:
    """The floor sums (us per call, by ``key``: best or median) and their ratios."""

    def row(name: str) -> float | None:
        found = cases.get(f"floor.{name}")
        return None if found is None else float(found[key])

    parts = {name: row(name) for name in FLOOR_CASES if name != "cache-hit"}
    conn, pool, span = parts["conn-rt"], parts["pool"], parts["sdk-span"]
    metrics, log = parts["metrics"], parts["log-filtered"]
    if None in (conn, pool, span, metrics, log):
        return {}
    assert conn is not None and pool is not None and span is not None
    assert metrics is not None and log is not None
    unconfigured = conn + pool
    full = unconfigured + span + metrics + log
    pipeline = float(cases["logout.sync.baseline"][key])
    exists = float(cases["check.sync.baseline"][key])
    check_full = full - metrics / 2
    found: dict[str, float | None] = {}
    hit = row("cache-hit")
    cached = cases.get("cached_check.sync.baseline")
    if hit is not None and cached is not None:
        cached_exists = float(cached[key])
        found = {
            "cached_hit_unconfigured_us": round(hit, 3),
            "cached_hit_unconfigured_per_exists": round(hit / cached_exists, 4),
            "cached_hit_full_us": round(hit + span, 3),
            "cached_hit_full_per_exists": round((hit + span) / cached_exists, 4),
        }
    return {
        **found,
        "logout_unconfigured_us": round(unconfigured, 3),
        "logout_unconfigured_per_pipeline": round(unconfigured / pipeline, 3),
        "logout_full_us": round(full, 3),
        "logout_full_per_pipeline": round(full / pipeline, 3),
        "check_full_us": round(check_full, 3),
        "check_full_per_exists": round(check_full / exists, 3),
    }
