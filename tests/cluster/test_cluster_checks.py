"""Checks and "log out everywhere" on a cluster: keys of one call on several nodes."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.crc import key_slot

from assertions import PREFIX, random_hashes
from cluster.cluster_checks import assert_cluster_matches, share
from cluster.cluster_fixtures import LocalCluster
from conftest import Harness
from token_blacklist import AsyncTokenBlacklist, BlacklistUnavailableError, TokenBlacklist
from token_blacklist._core.commands import subject_key
from token_blacklist.testing import TelemetryCapture

FAST = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}


@pytest.fixture(params=["sync", "async"])
def cluster_harness(request: pytest.FixtureRequest, capture: TelemetryCapture) -> Harness:
    return Harness(request.param, capture)


def test_check_with_a_dead_node_answers_the_rest_by_policy(
    cluster: LocalCluster, cluster_harness: Harness
):
    hashes = random_hashes(300)
    assert cluster_harness.blacklist(cluster, hashes, client_kwargs=FAST).ok
    victim = cluster.nodes[1]
    on_victim = share(cluster, hashes, victim)
    unknown = random_hashes(30)
    victim.kill()
    asked = hashes + unknown
    allowed = cluster_harness.call(
        cluster, "blacklisted", asked, client_kwargs=FAST, on_check_error="allow"
    )
    assert allowed == set(hashes) - on_victim, "healthy nodes answered, the dead one did not"
    denied = cluster_harness.call(
        cluster, "blacklisted", asked, client_kwargs=FAST, on_check_error="deny"
    )
    assert denied == set(hashes) | share(cluster, unknown, victim)
    with pytest.raises(BlacklistUnavailableError) as raised:
        cluster_harness.call(cluster, "blacklisted", asked, client_kwargs=FAST)
    assert raised.value.reason.value == "connection"
    (span, *_) = cluster_harness.capture.spans("token_blacklist.check")
    assert dict(span.attributes or {})["token_blacklist.failed_nodes"] == (
        f"{victim.host}:{victim.port}",
    )


def test_log_out_everywhere_reads_token_and_subject_on_their_own_nodes(
    cluster: LocalCluster, capture: TelemetryCapture
):
    subject = "user-42"
    owners = cluster.owners()
    subject_node = owners[key_slot(subject_key(f"{PREFIX}:", subject).encode())]
    token = next(
        h for h in random_hashes(50) if owners[key_slot(f"{PREFIX}:{h}".encode())] != subject_node
    )
    issued_at = time.time() - 10

    client = cluster.client(**FAST)
    try:
        blacklist = TokenBlacklist(client, **capture.kwargs())
        assert not blacklist.is_blacklisted(token, subject=subject, issued_at=issued_at)
        assert blacklist.revoke_all(subject, 3600).ok
        assert blacklist.is_blacklisted(token, subject=subject, issued_at=issued_at)
    finally:
        client.close()

    async def run() -> bool:
        async_client = cluster.async_client(**FAST)
        try:
            blacklist = AsyncTokenBlacklist(async_client, **capture.kwargs())
            return await blacklist.is_blacklisted(token, subject=subject, issued_at=issued_at)
        finally:
            await async_client.aclose()

    assert asyncio.run(run())


def test_stream_with_a_dead_node_fails_only_its_share(
    cluster: LocalCluster, capture: TelemetryCapture
):
    victim = cluster.nodes[0]
    hashes = random_hashes(1200)
    on_victim = share(cluster, hashes, victim)
    victim.kill()
    client = cluster.client(**FAST)
    try:
        blacklist = TokenBlacklist(client, chunk_size=50, **capture.kwargs())
        result = blacklist.blacklist_stream(iter(hashes), 60, batch_size=300)
    finally:
        client.close()
    assert set(result.failures) == on_victim
    assert result.succeeded == len(hashes) - len(on_victim)
    assert_cluster_matches(result, hashes, cluster)
