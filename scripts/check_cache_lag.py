"""Invalidation lag of ``check_cache=``: a revocation by one process, seen by another.

A writer process revokes N hashes one by one (``blacklist_tokens``, a separate client) and
notes when each write was acknowledged; a checker process, whose cached client holds every
hash as "not revoked" beforehand, polls them and notes when each first reads "revoked".
The lag is the difference (``time.monotonic`` is system-wide on Linux). Prints p50, p99 and
max, in milliseconds, for the sync (thread) and asyncio (task) links, and the bound.

    python scripts/check_cache_lag.py [--count 500] [--max-staleness 0.1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import secrets
import statistics
import time
from typing import Any

from prometheus_client import CollectorRegistry

from token_blacklist import AsyncTokenBlacklist, CheckCache, TokenBlacklist
from token_blacklist.server import RedisServer


def _writer(port: int, hashes: list[str], start: Any, out: Any) -> None:
    import redis

    blacklist = TokenBlacklist(redis.Redis(port=port), registry=CollectorRegistry())
    start.wait()
    acknowledged = []
    for token_hash in hashes:
        blacklist.blacklist_tokens([token_hash], ttl=600)
        acknowledged.append(time.monotonic())
        time.sleep(0.004)
    out.put(acknowledged)


def _sync_checker(port: int, hashes: list[str], cache: CheckCache, start: Any, out: Any) -> None:
    import redis

    blacklist = TokenBlacklist(
        redis.Redis(port=port), registry=CollectorRegistry(), check_cache=cache
    )
    time.sleep(0.3)
    for token_hash in hashes:
        blacklist.is_blacklisted(token_hash)  # cached "not revoked"
    seen: dict[str, float] = {}
    start.wait()
    waiting = list(hashes)
    deadline = time.monotonic() + 60
    while waiting and time.monotonic() < deadline:
        for token_hash in list(waiting[:50]):
            if blacklist.is_blacklisted(token_hash):
                seen[token_hash] = time.monotonic()
                waiting.remove(token_hash)
        time.sleep(0.0001)  # a server between requests: the link's thread gets the GIL
    blacklist.close()
    out.put([seen.get(h, float("nan")) for h in hashes])


def _async_checker(port: int, hashes: list[str], cache: CheckCache, start: Any, out: Any) -> None:
    import redis.asyncio

    async def main() -> list[float]:
        client = redis.asyncio.Redis(port=port)
        blacklist = AsyncTokenBlacklist(client, registry=CollectorRegistry(), check_cache=cache)
        await blacklist.is_blacklisted(hashes[0])
        await asyncio.sleep(0.3)
        for token_hash in hashes:
            await blacklist.is_blacklisted(token_hash)
        seen: dict[str, float] = {}
        await asyncio.to_thread(start.wait)
        waiting = list(hashes)
        deadline = time.monotonic() + 60
        while waiting and time.monotonic() < deadline:
            for token_hash in list(waiting[:50]):
                if await blacklist.is_blacklisted(token_hash):
                    seen[token_hash] = time.monotonic()
                    waiting.remove(token_hash)
            await asyncio.sleep(0.0001)
        await blacklist.aclose()
        await client.aclose()
        return [seen.get(h, float("nan")) for h in hashes]

    out.put(asyncio.run(main()))


def measure(flavour: str, count: int, cache: CheckCache) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    hashes = [secrets.token_hex(32) for _ in range(count)]
    with RedisServer() as server:
        start, acks, seen = context.Event(), context.Queue(), context.Queue()
        target = _sync_checker if flavour == "sync" else _async_checker
        checker = context.Process(target=target, args=(server.port, hashes, cache, start, seen))
        writer = context.Process(target=_writer, args=(server.port, hashes, start, acks))
        checker.start()
        writer.start()
        time.sleep(1.5)  # both connected, the checker's cache warm
        start.set()
        acknowledged, first_seen = acks.get(timeout=120), seen.get(timeout=120)
        writer.join()
        checker.join()
    lags = sorted((s - a) * 1000 for a, s in zip(acknowledged, first_seen, strict=True))
    return {
        "count": count,
        "p50_ms": round(statistics.median(lags), 3),
        "p99_ms": round(lags[int(0.99 * (len(lags) - 1))], 3),
        "max_ms": round(lags[-1], 3),
        "bound_ms": cache.max_staleness * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--max-staleness", type=float, default=0.1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cache = CheckCache(max_staleness=args.max_staleness)
    report = {flavour: measure(flavour, args.count, cache) for flavour in ("sync", "async")}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for flavour, row in report.items():
        print(
            f"{flavour:5}  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  "
            f"max {row['max_ms']} ms  (bound {row['bound_ms']:g} ms, {row['count']} revocations)"
        )


if __name__ == "__main__":
    main()
