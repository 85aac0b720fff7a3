"""``check_cache=``: answers from memory, and never a stale "not revoked" beyond the bound.

Against real servers. The invariant every test checks is the promise itself: a check that
*starts* more than ``max_staleness`` after a revocation was acknowledged (by another
client) says blacklisted, whatever happened to the link meanwhile: cut, paused, killed,
restarted. Those checks either come from Redis (the cache was bypassed) or from a cache
that has applied the invalidation; a check that cannot be answered follows the policy.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from prometheus_client import CollectorRegistry
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import random_hashes
from token_blacklist import (
    AsyncTokenBlacklist,
    BlacklistUnavailableError,
    CheckCache,
    TokenBlacklist,
)
from token_blacklist.server import RedisServer, describe_binary, find_redis_server
from token_blacklist.testing import TelemetryCapture

BINARY = describe_binary(find_redis_server())
OLD = BINARY.name == "redis" and BINARY.version < (7, 0)
BOUND = 0.1
CACHE = CheckCache(max_entries=10_000, max_staleness=BOUND)


def sample(registry: CollectorRegistry, result: str) -> float:
    value = registry.get_sample_value("token_blacklist_check_cache_total", {"result": result})
    return value or 0.0


def wait_serving(
    blacklist: TokenBlacklist, token_hash: str, registry: CollectorRegistry, timeout: float = 5.0
) -> None:
    """Until a check of ``token_hash`` is answered from memory (the link is up and fresh)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = sample(registry, "hit")
        blacklist.is_blacklisted(token_hash)
        if sample(registry, "hit") > hits:
            return
        time.sleep(0.01)
    pytest.fail("the check cache never served")


def checks_after(
    blacklist: TokenBlacklist, token_hash: str, acknowledged: float, seconds: float, **kw
) -> list[tuple[float, bool | Exception]]:
    """Check ``token_hash`` for ``seconds``; (start - acknowledged, answer) of each."""
    seen: list[tuple[float, bool | Exception]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            answer: bool | Exception = blacklist.is_blacklisted(token_hash, **kw)
        except BlacklistUnavailableError as error:
            answer = error
        seen.append((started - acknowledged, answer))
        time.sleep(0.002)
    return seen


def assert_never_stale(seen: list[tuple[float, bool | Exception]]) -> None:
    stale = [
        (round(after, 4), answer) for after, answer in seen if after > BOUND and answer is False
    ]
    assert not stale, f"'not revoked' served {len(stale)} times past the bound: {stale[:5]}"
    assert any(after > BOUND for after, _ in seen)


@pytest.fixture
def cached(redis_server: RedisServer, admin: redis.Redis):
    capture = TelemetryCapture()
    client = redis_server.client(socket_timeout=0.5)
    blacklist = TokenBlacklist(client, **capture.kwargs(), check_cache=CACHE)
    writer = TokenBlacklist(redis_server.client(), registry=CollectorRegistry())
    yield blacklist, writer, capture
    blacklist.close()
    client.close()


def test_hits_answer_from_memory_and_the_span_says_so(cached):
    blacklist, writer, capture = cached
    revoked, other = random_hashes(2)
    writer.blacklist_tokens([revoked], ttl=600)
    wait_serving(blacklist, other, capture.registry)
    registry = capture.registry
    hits = sample(registry, "hit")
    assert blacklist.is_blacklisted(revoked) is True  # a miss, stored
    checks = {
        r: capture.sample("token_blacklist_checks_total", result=r)
        for r in ("blacklisted", "not_blacklisted")
    }
    calls = capture.sample("token_blacklist_operation_duration_seconds_count", operation="check")
    capture.clear()
    assert blacklist.is_blacklisted(revoked) is True  # a hit
    assert blacklist.is_blacklisted(other) is False  # a hit on a key that is not revoked
    assert sample(registry, "hit") == hits + 2
    # A hit is a check like any other: counted, timed, traced (and says it was cached).
    assert (
        capture.sample("token_blacklist_checks_total", result="blacklisted")
        == checks["blacklisted"] + 1
    )
    assert (
        capture.sample("token_blacklist_checks_total", result="not_blacklisted")
        == checks["not_blacklisted"] + 1
    )
    assert (
        capture.sample("token_blacklist_operation_duration_seconds_count", operation="check")
        == calls + 2
    )
    hit_spans = [s for s in capture.spans() if s.name == "token_blacklist.check"]
    assert [s.attributes["token_blacklist.blacklisted"] for s in hit_spans] == [1, 0]
    assert all(s.attributes["token_blacklist.check.cached"] is True for s in hit_spans)
    assert blacklist.blacklisted([revoked, other]) == {revoked}
    spans = [s for s in capture.spans() if s.name == "token_blacklist.check"]
    assert spans[-1].attributes.get("token_blacklist.check.cached") is True
    assert registry.get_sample_value("token_blacklist_check_cache_link_up") == 1.0
    assert registry.get_sample_value("token_blacklist_checks_total", {"result": "blacklisted"})


def test_a_revocation_by_another_client_is_seen_within_the_bound(cached):
    blacklist, writer, capture = cached
    for token_hash in random_hashes(5):
        wait_serving(blacklist, token_hash, capture.registry)
        assert blacklist.is_blacklisted(token_hash) is False
        writer.blacklist_tokens([token_hash], ttl=600)
        acknowledged = time.monotonic()
        assert_never_stale(checks_after(blacklist, token_hash, acknowledged, 0.3))


def test_a_cut_link_empties_the_cache_and_checks_go_to_redis(cached, admin):
    blacklist, writer, capture = cached
    token_hash = random_hashes(1)[0]
    wait_serving(blacklist, token_hash, capture.registry)
    lost = capture.registry.get_sample_value("token_blacklist_check_cache_link_losses_total")

    admin.client_kill_filter(_type="normal", skipme=True)  # every client: the link too
    writer.blacklist_tokens([token_hash], ttl=600)  # its invalidation may never reach the link
    acknowledged = time.monotonic()
    assert_never_stale(checks_after(blacklist, token_hash, acknowledged, 0.5))
    deadline = time.monotonic() + 5
    while (
        capture.registry.get_sample_value("token_blacklist_check_cache_link_losses_total") == lost
    ):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    wait_serving(blacklist, random_hashes(1)[0], capture.registry)  # and it comes back


def test_a_paused_server_never_gets_a_stale_answer_from_memory(make_server):
    server = make_server()
    capture = TelemetryCapture()
    client = server.client(socket_timeout=0.2, retry=Retry(NoBackoff(), 0))  # fail fast
    blacklist = TokenBlacklist(client, **capture.kwargs(), check_cache=CACHE, retries=0)
    try:
        token_hash = random_hashes(1)[0]
        wait_serving(blacklist, token_hash, capture.registry)
        server.pause()  # SIGSTOP: the link's heartbeat goes unanswered
        paused = time.monotonic()
        try:
            seen = checks_after(blacklist, token_hash, paused, 1.5)
        finally:
            server.resume()
        # Past the bound no answer comes from memory: Redis is asked, and does not answer.
        late = [answer for after, answer in seen if after > BOUND]
        assert late and all(isinstance(answer, BlacklistUnavailableError) for answer in late)
        assert sample(capture.registry, "bypass") >= len(late)
        wait_serving(blacklist, token_hash, capture.registry)
    finally:
        blacklist.close()
        client.close()


def test_a_restarted_server_empties_the_cache(make_server):
    server = make_server({"appendonly": "yes", "appendfsync": "always"})
    capture = TelemetryCapture()
    client = server.client(socket_timeout=0.5)
    blacklist = TokenBlacklist(client, **capture.kwargs(), check_cache=CACHE)
    try:
        kept, later = random_hashes(2)
        server.client().set(f"token_blacklist:{kept}", 1, ex=600)
        wait_serving(blacklist, later, capture.registry)
        assert blacklist.is_blacklisted(kept) is True
        server.kill()
        server.start()  # same port, same AOF
        writer = server.client()
        writer.set(f"token_blacklist:{later}", 1, ex=600)  # perhaps before the link is back
        acknowledged = time.monotonic()
        seen = checks_after(blacklist, later, acknowledged, 0.5)
        assert_never_stale(seen)
        assert blacklist.is_blacklisted(kept) is True  # the AOF kept it
        writer.close()
    finally:
        blacklist.close()
        client.close()


def test_flushall_and_expiry_invalidate_revoked_answers(cached, admin):
    blacklist, writer, capture = cached
    short, flushed = random_hashes(2)
    writer.blacklist_tokens([short], ttl=1)
    writer.blacklist_tokens([flushed], ttl=600)
    wait_serving(blacklist, flushed, capture.registry)
    assert blacklist.is_blacklisted(short) and blacklist.is_blacklisted(flushed)
    admin.flushall()
    acknowledged = time.monotonic()
    later = [a for after, a in checks_after(blacklist, flushed, acknowledged, 0.3) if after > BOUND]
    assert later and not any(later)  # no revoked answer for a key Redis no longer has


@pytest.mark.skipif(OLD, reason="revoke_all needs Redis 7.0 (UnsupportedServerError on 6.2)")
def test_revoke_all_invalidates_the_subjects_cached_checks(cached):
    blacklist, writer, capture = cached
    token_hash = random_hashes(1)[0]
    issued_at = time.time() - 60
    wait_serving(blacklist, token_hash, capture.registry)
    for _ in range(3):
        assert blacklist.is_blacklisted(token_hash, subject="alice", issued_at=issued_at) is False
    assert writer.revoke_all("alice", 600).ok
    acknowledged = time.monotonic()
    seen = checks_after(
        blacklist, token_hash, acknowledged, 0.3, subject="alice", issued_at=issued_at
    )
    assert_never_stale(seen)


def test_many_threads_never_see_a_value_older_than_its_invalidation(redis_server, admin):
    capture = TelemetryCapture()
    client = redis_server.client(max_connections=32)
    blacklist = TokenBlacklist(client, **capture.kwargs(), check_cache=CACHE)
    writer = TokenBlacklist(redis_server.client(), registry=CollectorRegistry())
    hashes = random_hashes(200)
    acknowledged: dict[str, float] = {}
    stale: list[tuple[str, float]] = []
    stop = threading.Event()

    def check() -> None:
        index = 0
        while not stop.is_set():
            token_hash = hashes[index % len(hashes)]
            index += 1
            started = time.monotonic()
            if blacklist.is_blacklisted(token_hash) is False:
                done = acknowledged.get(token_hash)
                if done is not None and started - done > BOUND:
                    stale.append((token_hash[:8], started - done))

    try:
        wait_serving(blacklist, hashes[0], capture.registry)
        threads = [threading.Thread(target=check) for _ in range(6)]
        for thread in threads:
            thread.start()
        for token_hash in hashes:
            writer.blacklist_tokens([token_hash], ttl=600)
            acknowledged[token_hash] = time.monotonic()
            time.sleep(0.003)
        time.sleep(BOUND * 3)
        stop.set()
        for thread in threads:
            thread.join()
        assert not stale, stale[:5]
        assert sample(capture.registry, "hit") > 0
        assert all(blacklist.is_blacklisted(h) for h in hashes)
    finally:
        stop.set()
        blacklist.close()
        client.close()


async def test_asyncio_tasks_see_revocations_within_the_bound(redis_server, admin):
    capture = TelemetryCapture()
    client = redis_server.async_client()
    blacklist = AsyncTokenBlacklist(client, **capture.kwargs(), check_cache=CACHE)
    writer = TokenBlacklist(redis_server.client(), registry=CollectorRegistry())
    hashes = random_hashes(50)
    acknowledged: dict[str, float] = {}
    stale: list[float] = []
    try:
        deadline = time.monotonic() + 5
        while sample(capture.registry, "hit") == 0:
            await blacklist.is_blacklisted(hashes[0])
            await asyncio.sleep(0.01)
            assert time.monotonic() < deadline

        async def check() -> None:
            for _ in range(400):
                for token_hash in hashes:
                    started = time.monotonic()
                    if await blacklist.is_blacklisted(token_hash) is False:
                        done = acknowledged.get(token_hash)
                        if done is not None and started - done > BOUND:
                            stale.append(started - done)
                await asyncio.sleep(0.001)

        async def write() -> None:
            for token_hash in hashes:
                await asyncio.to_thread(writer.blacklist_tokens, [token_hash], 600)
                acknowledged[token_hash] = time.monotonic()
                await asyncio.sleep(0.005)

        await asyncio.gather(write(), *(check() for _ in range(4)))
        assert not stale, stale[:5]
        assert sample(capture.registry, "hit") > 0
    finally:
        await blacklist.aclose()
        await client.aclose()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"max_entries": 0}, ValueError), ({"max_staleness": 0}, ValueError),
     ({"max_staleness": "1"}, TypeError), ({"heartbeat": 1.0}, ValueError)],
)  # fmt: skip
def test_bad_settings_raise_at_construction(kwargs, error):
    with pytest.raises(error):
        CheckCache(**kwargs)
