"""A refusing server costs a bounded number of round trips, not one chunk's retries per
chunk (issue 13, item 3): once a chunk has exhausted its retries on a retriable refusal
(here a replica's READONLY), the rest of the call is reported with that reason without
being sent. Counted on the server (INFO commandstats), not timed."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from assertions import assert_telemetry_matches, held, random_hashes
from conftest import Harness
from token_blacklist import FailureReason
from token_blacklist.server import RedisServer

COUNT = 100_000
CHUNK = 1000


def set_commands_seen(replica: redis.Redis) -> int:
    """``SET`` s the replica received since the last reset: refused ones included."""
    stats = replica.info("commandstats").get("cmdstat_set", {})
    return int(stats.get("calls", 0)) + int(stats.get("rejected_calls", 0))


@pytest.fixture
def replica(replica_server: RedisServer) -> Any:
    client = replica_server.client()
    client.config_resetstat()
    yield client
    client.close()


def test_a_readonly_replica_is_asked_one_chunk_only(
    harness: Harness, replica_server: RedisServer, replica: redis.Redis, admin: redis.Redis
) -> None:
    hashes = random_hashes(COUNT)
    result = harness.blacklist(replica_server, hashes, 60, retries=2, retry_backoff=0.01)
    assert result.requested == COUNT and result.succeeded == 0
    assert set(result.failures.values()) == {FailureReason.READONLY}
    assert len(result.failures) == COUNT
    assert result.chunks == COUNT // CHUNK
    assert result.round_trips == 3, "the first chunk and its two re-sends; nothing after"
    assert set_commands_seen(replica) == 3 * CHUNK
    assert not held(admin, hashes[:2000])  # nothing written anywhere
    assert_telemetry_matches(harness.capture, result)


def test_a_stream_stops_sending_too(
    harness: Harness, replica_server: RedisServer, replica: redis.Redis
) -> None:
    hashes = random_hashes(COUNT)
    result = harness.call(
        replica_server, "blacklist_stream", iter(hashes), 60, retries=2, retry_backoff=0.01
    )
    assert result.requested == COUNT and result.failed == COUNT
    assert set(result.failures.values()) == {FailureReason.READONLY}
    assert result.round_trips == 3
    assert set_commands_seen(replica) == 3 * CHUNK
