"""A revocation's expiry only ever grows on a Redis Cluster and behind Sentinel too
(issue 13, item 2): the second round trip (``EXPIRE GT`` + ``SET NX``) is routed per key
like the first, and on Sentinel it is confirmed by ``WAIT`` like any write."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from assertions import PREFIX, random_hashes
from cluster.cluster_fixtures import LocalCluster
from cluster.sentinel_fixtures import SentinelSet
from conftest import Harness
from token_blacklist.testing import TelemetryCapture

LONG, SHORT = 86_400, 5


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_cluster_re_revocation_keeps_the_longer_expiry(cluster: LocalCluster, mode: str) -> None:
    hashes = random_hashes(200)
    assert Harness(mode, TelemetryCapture()).blacklist(cluster, hashes, LONG).ok
    fresh = random_hashes(100)
    result = Harness(mode, TelemetryCapture()).blacklist(cluster, hashes + fresh, SHORT)
    assert result.ok and result.succeeded == 300
    assert cluster.held(hashes + fresh, PREFIX) == set(hashes + fresh)
    for token_hash in hashes[:40] + fresh[:20]:
        key = f"{PREFIX}:{token_hash}"
        node = cluster.node_for_slot(key_slot(key.encode()))
        ttl = LocalCluster.admin(node).ttl(key)
        assert (LONG - 5 < ttl <= LONG) if token_hash in hashes else (0 < ttl <= SHORT)


def test_sentinel_re_revocation_keeps_the_longer_expiry(
    sentinel_set: SentinelSet, mode: str
) -> None:
    hashes = random_hashes(100)
    assert Harness(mode, TelemetryCapture()).blacklist(sentinel_set, hashes, LONG).ok
    result = Harness(mode, TelemetryCapture()).blacklist(sentinel_set, hashes, SHORT)
    assert result.ok and result.succeeded == 100 and result.round_trips == 2
    admin = sentinel_set.primary().client()
    assert all(LONG - 5 < admin.ttl(f"{PREFIX}:{h}") <= LONG for h in hashes)
    admin.close()
