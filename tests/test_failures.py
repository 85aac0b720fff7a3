"""Every failure mode of the core against real redis-server processes, sync and async.

In each case the result must equal what Redis holds afterwards (exactly when every hash's
outcome was resolved, as a lower bound otherwise: README "Guarantee"), and metrics, span
and log must agree
with the result.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import (
    PREFIX,
    assert_matches_redis,
    assert_telemetry_matches,
    held,
    random_hashes,
)
from conftest import PARTIAL_USER, Harness
from faults import CuttingProxy
from token_blacklist import FailureReason
from token_blacklist.server import RedisServer

NO_CLIENT_RETRY = {"retry": Retry(NoBackoff(), 0)}
CUT_INSIDE_8TH_REPLY = 7 * len(b"+OK\r\n") + 2


def test_everything_written(harness: Harness, redis_server: RedisServer, admin: redis.Redis):
    hashes = random_hashes(25)
    result = harness.blacklist(redis_server, hashes + hashes[:5], 60, chunk_size=10)
    assert result.ok and result.requested == 25 and result.chunks == 3
    assert result.round_trips == 3
    assert_matches_redis(result, hashes, admin)
    assert_telemetry_matches(harness.capture, result)
    assert 55 <= admin.ttl(f"{PREFIX}:{hashes[0]}") <= 60


def test_per_hash_ttl(harness: Harness, redis_server: RedisServer, admin: redis.Redis):
    hashes = random_hashes(3)
    ttls = {hashes[0]: 30, hashes[1]: 600, hashes[2]: 86_400}
    result = harness.blacklist(redis_server, hashes, ttls)
    assert result.ok
    for token_hash, ttl in ttls.items():
        assert ttl - 5 <= admin.ttl(f"{PREFIX}:{token_hash}") <= ttl


def test_empty_input_makes_no_round_trip(harness: Harness, redis_server: RedisServer):
    result = harness.blacklist(redis_server, [], 60)
    assert result.ok and result.requested == 0 and result.round_trips == 0
    assert_telemetry_matches(harness.capture, result)


@pytest.fixture
def acl_admin(acl_server: RedisServer) -> Iterator[redis.Redis]:
    client = acl_server.client()
    client.flushall()
    yield client
    client.close()


def test_partial_noperm(harness: Harness, acl_server: RedisServer, acl_admin: redis.Redis):
    allowed = random_hashes(12, first="3")
    denied = random_hashes(8, first="c")
    hashes = [h for pair in zip(allowed, denied + denied[:4], strict=True) for h in pair]
    user, password = PARTIAL_USER
    result = harness.blacklist(
        acl_server, hashes, 60, client_kwargs={"username": user, "password": password}
    )
    assert result.succeeded == 12 and result.failed == 8
    assert set(result.failures) == set(denied)
    assert set(result.failures.values()) == {FailureReason.NOPERM}
    assert result.round_trips == 1, "NOPERM is final: no re-send"
    assert_matches_redis(result, hashes, acl_admin)
    assert_telemetry_matches(harness.capture, result)


def test_partial_oom(harness: Harness, make_server):
    server = make_server({"maxmemory-policy": "noeviction"})
    admin = server.client()
    used = admin.info("memory")["used_memory"]
    admin.config_set("maxmemory", used + 256 * 1024)
    hashes = random_hashes(6000)
    result = harness.blacklist(server, hashes, 60, chunk_size=500)
    assert 0 < result.succeeded < result.requested, result
    assert set(result.failures.values()) == {FailureReason.OOM}
    assert result.round_trips == result.chunks, "OOM is final: no re-send"
    admin.config_set("maxmemory", 0)
    assert_matches_redis(result, hashes, admin)
    assert_telemetry_matches(harness.capture, result)


def test_readonly_replica(
    harness: Harness, replica_server: RedisServer, redis_server: RedisServer, admin: redis.Redis
):
    hashes = random_hashes(5)
    result = harness.blacklist(replica_server, hashes, 60, retries=2, retry_backoff=0.01)
    assert result.succeeded == 0
    assert set(result.failures.values()) == {FailureReason.READONLY}
    assert result.round_trips == 3, "READONLY may be a failover in flight: re-sent twice"
    assert_matches_redis(result, hashes, admin)
    assert_matches_redis(result, hashes, replica_server.client())
    assert_telemetry_matches(harness.capture, result)


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[CuttingProxy]:
    hop = CuttingProxy(redis_server.host, redis_server.port)
    yield hop
    hop.close()


@pytest.mark.parametrize("direction", ["reply", "request"])
def test_connection_cut_mid_chunk_is_resent(
    harness: Harness, proxy: CuttingProxy, admin: redis.Redis, direction: str
):
    hashes = random_hashes(40)
    # inside the 8th reply, or part-way through the packed SETs
    cut = {"reply_bytes": CUT_INSIDE_8TH_REPLY} if direction == "reply" else {"request_bytes": 3000}
    result = harness.blacklist(
        proxy,
        hashes,
        60,
        client_kwargs=NO_CLIENT_RETRY,
        retries=2,
        retry_backoff=0.0,
        before=lambda: proxy.arm(**cut),
    )
    assert proxy.cuts == 1
    # The re-send's SET NX finds the keys the cut attempt applied: one EXPIRE GT round trip.
    assert result.ok and result.round_trips == 3
    assert_matches_redis(result, hashes, admin)
    assert_telemetry_matches(harness.capture, result)


def test_connection_cut_without_retries_reports_unknown_as_failed(
    harness: Harness, proxy: CuttingProxy, admin: redis.Redis
):
    hashes = random_hashes(40)
    result = harness.blacklist(
        proxy,
        hashes,
        60,
        client_kwargs=NO_CLIENT_RETRY,
        retries=0,
        before=lambda: proxy.arm(reply_bytes=CUT_INSIDE_8TH_REPLY),
    )
    assert proxy.cuts == 1
    # Redis applied the chunk, but no acknowledgement of it was kept: reported failed,
    # never the other way round.
    assert result.failed > 0
    assert set(result.failures.values()) == {FailureReason.CONNECTION}
    assert_matches_redis(result, hashes, admin, exact=False)
    assert len(held(admin, hashes)) == 40
    assert_telemetry_matches(harness.capture, result)


def test_client_retry_resends_the_pipeline_itself(
    harness: Harness, proxy: CuttingProxy, admin: redis.Redis
):
    """With redis-py's default Retry the client re-sends on its own: one module attempt."""
    hashes = random_hashes(40)
    result = harness.blacklist(
        proxy, hashes, 60, before=lambda: proxy.arm(reply_bytes=CUT_INSIDE_8TH_REPLY)
    )
    assert proxy.cuts == 1
    assert result.ok
    assert_matches_redis(result, hashes, admin)


def test_server_down_fails_fast(harness: Harness, make_server):
    server = make_server()
    server.stop()  # nothing listens on its port any more
    hashes = random_hashes(30)
    result = harness.blacklist(
        server, hashes, 60, chunk_size=10, client_kwargs=NO_CLIENT_RETRY, retries=2
    )
    assert result.succeeded == 0 and result.chunks == 3
    assert set(result.failures.values()) == {FailureReason.CONNECTION}
    assert result.round_trips == 1, "connection refused: no re-send, later chunks not sent"
    assert_telemetry_matches(harness.capture, result)


@pytest.mark.slow
def test_paused_server_times_out(harness: Harness, make_server):
    server = make_server()
    admin = server.client()
    hashes = random_hashes(20)
    server.pause()
    try:
        result = harness.blacklist(
            server,
            hashes,
            60,
            chunk_size=10,
            client_kwargs={**NO_CLIENT_RETRY, "socket_timeout": 0.2},
            retries=1,
            retry_backoff=0.0,
        )
    finally:
        server.resume()
    assert result.succeeded == 0 and result.chunks == 2
    assert set(result.failures.values()) == {FailureReason.TIMEOUT}
    assert result.round_trips == 2, "one re-send of chunk 1, then Redis is plainly down"
    # The paused server may still apply what sat in its input buffer: a lower bound only.
    assert_matches_redis(result, hashes, admin, exact=False)
    assert_telemetry_matches(harness.capture, result)


def test_wrong_password_is_auth(harness: Harness, make_server):
    server = make_server({"requirepass": "s3cret-pw"})
    hashes = random_hashes(5)
    result = harness.blacklist(
        server, hashes, 60, client_kwargs={**NO_CLIENT_RETRY, "password": "wrong-pw"}
    )
    assert result.succeeded == 0
    assert set(result.failures.values()) == {FailureReason.AUTH}
    assert_matches_redis(result, hashes, server.client())
    assert_telemetry_matches(harness.capture, result)


def test_key_of_another_type_counts_and_is_kept(
    harness: Harness, redis_server: RedisServer, admin: redis.Redis
):
    """A stray list under our prefix cannot block a revocation (no WRONGTYPE on this path):
    checks use EXISTS, so the key already revokes the hash; SET NX leaves it, and EXPIRE GT
    finds no expiry to lengthen (none is infinite), so it is kept and counts as succeeded."""
    hashes = random_hashes(3)
    admin.rpush(f"{PREFIX}:{hashes[0]}", "x")
    result = harness.blacklist(redis_server, hashes, 60)
    assert result.ok
    assert admin.type(f"{PREFIX}:{hashes[0]}") == b"list"
    assert admin.ttl(f"{PREFIX}:{hashes[0]}") == -1
    assert harness.call(redis_server, "is_blacklisted", hashes[0])
    assert_matches_redis(result, hashes, admin)
