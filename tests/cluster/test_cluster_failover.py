"""A cluster failover under a client that still routes to the dead master.

The client loads its slot map, then the master dies and its replica takes over. The
module's first send to the dead master is refused, the slot map is refreshed, and the
re-send (within ``retries``) lands on the promoted replica: nothing is lost or misreported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from assertions import assert_telemetry_matches, random_hashes
from cluster.cluster_checks import assert_cluster_matches, assert_nodes_reported
from cluster.cluster_fixtures import LocalCluster
from conftest import Harness
from token_blacklist.testing import TelemetryCapture

FAST = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}


@pytest.fixture
def cluster_with_replica() -> Iterator[LocalCluster]:
    """3 masters and a replica of the first: a failover consumes it, so one per test."""
    with LocalCluster(replicas=1) as started:
        yield started


@pytest.fixture(params=["sync", "async"])
def cluster_harness(request: pytest.FixtureRequest, capture: TelemetryCapture) -> Harness:
    return Harness(request.param, capture)


def take_over(cluster: LocalCluster) -> None:
    """Kill master 0 and promote its replica (as an operator or the cluster would)."""
    master, replica = cluster.nodes[0], cluster.nodes[3]
    master.kill()
    cluster.admin(replica).execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        owners = set(cluster.owners().values())
        if replica.port in owners and master.port not in owners:
            return
        time.sleep(0.01)
    raise AssertionError("the replica did not take the slots over")


def test_master_replaced_by_its_replica_after_the_client_loaded_its_slot_map(
    cluster_with_replica: LocalCluster, cluster_harness: Harness
):
    cluster = cluster_with_replica
    hashes = random_hashes(900)
    result = cluster_harness.blacklist(
        cluster,
        hashes,
        chunk_size=20,
        client_kwargs=FAST,
        before=lambda: take_over(cluster),
    )
    assert result.ok, result
    held = assert_cluster_matches(result, hashes, cluster)
    assert cluster.nodes[3].port in held and held[cluster.nodes[3].port]
    assert_telemetry_matches(cluster_harness.capture, result)
    # The dead master is named: its first round trip was refused before the refresh.
    assert_nodes_reported(cluster_harness.capture, cluster, failed=[cluster.nodes[0]], involved=4)
