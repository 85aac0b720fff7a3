"""A small application for the end-to-end test: it revokes and checks tokens against a real
Redis through the library and serves ``/metrics`` (OpenMetrics with exemplars when asked).

    python dashboards_traffic_app.py --redis-port P --username U --password W --metrics-port M

It prints ``ready`` once ``/metrics`` answers. SIGUSR1 stops the traffic (the endpoint keeps
serving the final counts); SIGTERM exits. Logs are dropped: the test reads metrics.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import threading

import redis
import structlog
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, start_http_server

from token_blacklist import CheckCache, TokenBlacklist


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between calls")
    return parser.parse_args()


def _traffic(
    blacklist: TokenBlacklist, cached: TokenBlacklist, stop: threading.Event, pause: float
) -> None:
    revoked: list[str] = []
    calls = 0
    while not stop.wait(pause):
        calls += 1
        if calls % 10 == 1:
            # "Log out everywhere": the ACL user has no +zadd on the not-before keys, so
            # every one fails with NOPERM, as a forgotten ACL rule would make it.
            blacklist.revoke_all(f"user-{calls % 7}", ttl=600)
        hashes = [secrets.token_hex(32) for _ in range(8)]
        result = blacklist.blacklist_tokens(hashes, ttl=600)
        revoked.extend(h for h in hashes if h not in result.failures)
        # Known revoked hashes answer "blacklisted"; fresh ones outside the ACL pattern
        # are refused (NOPERM) and counted as check errors.
        blacklist.blacklisted([*revoked[-2:], *(secrets.token_hex(32) for _ in range(4))])
        # The same checks through a check_cache= client (hits, misses, the link's heartbeat).
        for token_hash in revoked[-3:]:
            cached.is_blacklisted(token_hash)


def main() -> None:
    args = _parse()
    registry = CollectorRegistry()
    client = redis.Redis(
        port=args.redis_port, username=args.username, password=args.password, socket_timeout=2
    )
    quiet = structlog.wrap_logger(
        structlog.PrintLogger(open(os.devnull, "w")),  # noqa: SIM115 - lives as long as the process
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
    )
    blacklist = TokenBlacklist(
        client,
        registry=registry,
        tracer_provider=TracerProvider(),  # sampled spans: exemplars carry their trace_id
        logger=quiet,
        on_check_error="deny",
    )
    cached = TokenBlacklist(
        client,
        registry=registry,
        logger=quiet,
        on_check_error="deny",
        check_cache=CheckCache(max_staleness=0.5),
    )
    start_http_server(args.metrics_port, addr="127.0.0.1", registry=registry)
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: stop.set())
    print("ready", flush=True)
    _traffic(blacklist, cached, stop, args.pause)
    while True:  # keep serving the final counts until SIGTERM (default action: exit)
        signal.pause()


if __name__ == "__main__":
    main()
