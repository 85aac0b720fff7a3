"""``check_cache=`` on a Sentinel-managed client: a failover never leaves a stale answer."""

from __future__ import annotations

import contextlib
import time

from prometheus_client import CollectorRegistry

from assertions import random_hashes
from token_blacklist import BlacklistUnavailableError, CheckCache, TokenBlacklist
from token_blacklist.testing import TelemetryCapture

BOUND = 0.1


def _hits(capture: TelemetryCapture) -> float:
    return capture.sample("token_blacklist_check_cache_total", result="hit")


def _wait_serving(blacklist: TokenBlacklist, token_hash: str, capture: TelemetryCapture) -> None:
    deadline = time.monotonic() + 15
    while True:
        before = _hits(capture)
        with contextlib.suppress(BlacklistUnavailableError):
            blacklist.is_blacklisted(token_hash)
        if _hits(capture) > before:
            return
        assert time.monotonic() < deadline, "the cache never served"
        time.sleep(0.02)


def test_a_failover_re_links_to_the_new_primary_and_never_serves_stale(sentinel_set):
    capture = TelemetryCapture()
    client = sentinel_set.client(socket_timeout=0.5)
    blacklist = TokenBlacklist(
        client, **capture.kwargs(), check_cache=CheckCache(max_staleness=BOUND)
    )
    writer = TokenBlacklist(sentinel_set.client(), registry=CollectorRegistry(), retries=3)
    hashes = random_hashes(3)
    try:
        for token_hash in hashes:
            _wait_serving(blacklist, token_hash, capture)  # cached "not revoked"
        old = sentinel_set.primary().port
        sentinel_set.failover()
        deadline = time.monotonic() + 15
        while sentinel_set.primary().port == old:
            assert time.monotonic() < deadline, "no failover"
            time.sleep(0.05)
        while not writer.blacklist_tokens(hashes, ttl=600).ok:  # the new primary's
            assert time.monotonic() < deadline
            time.sleep(0.05)
        acknowledged = time.monotonic()
        stale = []
        while time.monotonic() < acknowledged + 1.5:
            for token_hash in hashes:
                started = time.monotonic()
                try:
                    answer = blacklist.is_blacklisted(token_hash)
                except BlacklistUnavailableError:
                    continue
                if answer is False and started - acknowledged > BOUND:
                    stale.append(round(started - acknowledged, 3))
            time.sleep(0.005)
        assert not stale, stale[:5]
        _wait_serving(blacklist, hashes[0], capture)  # linked again, to the new primary
        assert blacklist.is_blacklisted(hashes[0]) is True
    finally:
        blacklist.close()
        client.close()
