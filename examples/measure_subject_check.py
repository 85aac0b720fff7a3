"""Cost of honouring "log out everywhere" in a check: the plain token check (one EXISTS)
against the subject-aware one (EXISTS + ZSCORE in one round trip), sync and asyncio, on a
private redis-server over loopback, with telemetry going to a throw-away registry and
no-op tracer and logger.

    python examples/measure_subject_check.py [iterations]
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import structlog
from opentelemetry.trace import NoOpTracerProvider
from prometheus_client import CollectorRegistry

from token_blacklist import AsyncTokenBlacklist, TokenBlacklist, hash_token
from token_blacklist.server import RedisServer

TOKEN_HASH = hash_token("measure")


def options() -> dict[str, object]:
    return {
        "registry": CollectorRegistry(),
        "tracer_provider": NoOpTracerProvider(),
        # Filtered out, as debug events are in production: the call is nearly free.
        "logger": structlog.wrap_logger(
            None, wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL)
        ),
    }


def per_call_us(call: Callable[[], object], iterations: int) -> float:
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(iterations):
            call()
        samples.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(samples)


async def per_call_us_async(call: Callable[[], Awaitable[object]], iterations: int) -> float:
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(iterations):
            await call()
        samples.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(samples)


def main(iterations: int) -> None:
    with RedisServer() as server:
        client = server.client()
        bl = TokenBlacklist(client, **options())  # type: ignore[arg-type]
        bl.revoke_all("someone", 600)
        now = time.time()
        rows = [
            ("sync plain", per_call_us(lambda: bl.is_blacklisted(TOKEN_HASH), iterations)),
            (
                "sync subject",
                per_call_us(
                    lambda: bl.is_blacklisted(TOKEN_HASH, subject="someone", issued_at=now),
                    iterations,
                ),
            ),
        ]

        async def run_async() -> None:
            aclient = server.async_client()
            abl = AsyncTokenBlacklist(aclient, **options())  # type: ignore[arg-type]
            rows.append(
                (
                    "async plain",
                    await per_call_us_async(lambda: abl.is_blacklisted(TOKEN_HASH), iterations),
                )
            )
            rows.append(
                (
                    "async subject",
                    await per_call_us_async(
                        lambda: abl.is_blacklisted(TOKEN_HASH, subject="someone", issued_at=now),
                        iterations,
                    ),
                )
            )
            await aclient.aclose()

        asyncio.run(run_async())
        client.close()
    for name, micros in rows:
        print(f"{name:14} {micros:7.1f} us per check (median of 5 x {iterations})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
