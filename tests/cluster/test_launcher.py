"""The cluster launcher itself: healthy after start, and after a kill + repair."""

from __future__ import annotations

import time

from cluster.cluster_fixtures import LocalCluster


def test_cluster_starts_healthy_and_routes_keys(cluster: LocalCluster) -> None:
    client = cluster.client()
    try:
        for i in range(30):
            client.set(f"launcher:{i}", 1)
        by_node = cluster.keys_by_node("launcher")
        assert len(by_node) == 3
        assert sum(len(v) for v in by_node.values()) == 30
        assert all(by_node.values()), "keys spread over every master"
    finally:
        client.close()


def test_killed_master_is_repaired_on_its_port(cluster: LocalCluster) -> None:
    node = cluster.nodes[1]
    port = node.port
    node.kill()
    started = time.monotonic()
    cluster.repair()
    assert node.port == port and node.running
    assert time.monotonic() - started < 15
