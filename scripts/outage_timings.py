"""How long one blacklist call takes when Redis is down or paused (README table).

Run: .venv/bin/python scripts/outage_timings.py
Starts private redis-server processes on loopback; 2,000 hashes in 2 chunks per call.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from prometheus_client import CollectorRegistry
from redis.backoff import NoBackoff
from redis.retry import Retry

from token_blacklist import TokenBlacklist
from token_blacklist.server import RedisServer

HASHES = [f"{i:064x}" for i in range(2000)]


def measure(label: str, server: RedisServer, **client_kwargs: Any) -> None:
    client = redis.Redis(host=server.host, port=server.port, **client_kwargs)
    started = time.perf_counter()
    result = TokenBlacklist(client, registry=CollectorRegistry()).blacklist_tokens(HASHES, 60)
    took = time.perf_counter() - started
    reasons = {reason.value: count for reason, count in result.reasons.items()}
    print(f"{label:58s} {took:6.2f} s  round_trips={result.round_trips}  {reasons}")


def main() -> None:
    down = RedisServer().start()
    down.stop()
    measure("down, redis.Redis() defaults", down)
    measure("down, no client retries (like from_url)", down, retry=Retry(NoBackoff(), 0))
    paused = RedisServer().start()
    paused.pause()
    try:
        measure("paused, socket_timeout=0.5, default client retries", paused, socket_timeout=0.5)
        measure(
            "paused, socket_timeout=0.5, no client retries",
            paused,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
    finally:
        paused.stop()


if __name__ == "__main__":
    main()
