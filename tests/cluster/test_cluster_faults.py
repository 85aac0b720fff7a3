"""A real 3-master cluster, sync and async: one node dead, killed, paused or resharded.

After each call the result is compared node by node with what the cluster holds, and the
metrics, span and log event with the result.
"""

from __future__ import annotations

import random
import secrets
import time

import pytest
from redis.crc import key_slot

from assertions import PREFIX, assert_telemetry_matches, error_count, random_hashes
from cluster.cluster_checks import (
    FaultWhenHolding,
    assert_cluster_matches,
    assert_nodes_reported,
    share,
)
from cluster.cluster_fixtures import LocalCluster
from conftest import Harness
from token_blacklist import FailureReason
from token_blacklist.testing import TelemetryCapture

CHUNK = 20  # many round trips per call, so a fault lands in the middle of one
FAST = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}


@pytest.fixture(params=["sync", "async"])
def cluster_harness(request: pytest.FixtureRequest, capture: TelemetryCapture) -> Harness:
    return Harness(request.param, capture)


def test_healthy_cluster_counts_every_node(cluster: LocalCluster, cluster_harness: Harness):
    hashes = random_hashes(600)
    result = cluster_harness.blacklist(cluster, hashes, chunk_size=CHUNK, client_kwargs=FAST)
    assert result.ok
    held = assert_cluster_matches(result, hashes, cluster)
    assert all(len(keys) > 100 for keys in held.values()), "every node took its share"
    assert_telemetry_matches(cluster_harness.capture, result)
    assert_nodes_reported(cluster_harness.capture, cluster, failed=[])
    checked = cluster_harness.call(
        cluster, "blacklisted", [*hashes[:50], *random_hashes(5)], client_kwargs=FAST
    )
    assert checked == set(hashes[:50])


def test_master_killed_before_the_batch_fails_only_its_share(
    cluster: LocalCluster, cluster_harness: Harness
):
    victim = cluster.nodes[1]
    hashes = random_hashes(900)
    on_victim = share(cluster, hashes, victim)
    victim.kill()
    started = time.monotonic()
    result = cluster_harness.blacklist(cluster, hashes, chunk_size=CHUNK, client_kwargs=FAST)
    elapsed = time.monotonic() - started

    assert dict(result.failures) == dict.fromkeys(on_victim, FailureReason.CONNECTION)
    assert result.succeeded == len(hashes) - len(on_victim)
    assert_cluster_matches(result, hashes, cluster)  # the two live nodes, exactly
    cluster.restart(victim)
    assert_cluster_matches(result, hashes, cluster)  # and the victim holds none
    assert_telemetry_matches(cluster_harness.capture, result)
    assert_nodes_reported(cluster_harness.capture, cluster, failed=[victim])
    assert elapsed < 3, "a refused node is not retried chunk after chunk"


def test_master_killed_mid_batch(cluster: LocalCluster, cluster_harness: Harness):
    victim = cluster.nodes[2]
    hashes = random_hashes(3000)
    on_victim = share(cluster, hashes, victim)
    with FaultWhenHolding(victim, 150, victim.kill) as fault:
        result = cluster_harness.blacklist(cluster, hashes, chunk_size=CHUNK, client_kwargs=FAST)
    assert fault.fired.is_set()
    victim_confirmed = on_victim - set(result.failures)
    assert 0 < len(victim_confirmed) < len(on_victim), "the kill landed mid-batch"
    assert set(result.failures) <= on_victim, "only the victim's share failed"
    assert set(result.reasons) == {FailureReason.CONNECTION}

    assert_cluster_matches(result, hashes, cluster)  # live nodes, exactly
    cluster.restart(victim)  # it comes back with what it had acknowledged
    held = assert_cluster_matches(result, hashes, cluster, unknown=[victim])
    # Applied but unconfirmed: at most what was in flight when the node died.
    assert len(held[victim.port] - victim_confirmed) <= CHUNK
    assert_telemetry_matches(cluster_harness.capture, result)
    assert_nodes_reported(cluster_harness.capture, cluster, failed=[victim])


@pytest.mark.slow
def test_master_paused_mid_batch(cluster: LocalCluster, cluster_harness: Harness):
    victim = cluster.nodes[0]
    hashes = random_hashes(3000)
    on_victim = share(cluster, hashes, victim)
    started = time.monotonic()
    with FaultWhenHolding(victim, 150, victim.pause) as fault:
        result = cluster_harness.blacklist(
            cluster, hashes, chunk_size=CHUNK, retries=2, client_kwargs=FAST
        )
    elapsed = time.monotonic() - started
    assert fault.fired.is_set()
    assert set(result.failures) <= on_victim, "only the paused node's share failed"
    assert 0 < len(on_victim - set(result.failures)) < len(on_victim)
    # Which connection noticed first decides the reason; both mean "not confirmed".
    assert set(result.reasons) <= {FailureReason.TIMEOUT, FailureReason.CONNECTION}
    # 3 attempts x 0.25 s on the in-flight chunk, then the node is down for the call.
    assert elapsed < 4

    assert_cluster_matches(result, hashes, cluster)  # the paused node is skipped here
    victim.resume()  # it applies what sat in its input buffer: more than confirmed
    assert_cluster_matches(result, hashes, cluster, unknown=[victim])
    assert_telemetry_matches(cluster_harness.capture, result)
    assert_nodes_reported(cluster_harness.capture, cluster, failed=[victim])


def hashes_in_slots(slots: list[int], per_slot: int) -> list[str]:
    """Hashes whose keys fall into ``slots``, ``per_slot`` each."""
    wanted = dict.fromkeys(slots, per_slot)
    found: list[str] = []
    base = secrets.token_hex(24)
    counter = 0
    while any(wanted.values()):
        candidate = f"{base}{counter:016x}"
        counter += 1
        slot = key_slot(f"{PREFIX}:{candidate}".encode())
        if wanted.get(slot):
            wanted[slot] -= 1
            found.append(candidate)
    return found


def test_slot_migration_mid_batch_follows_ask_and_moved(
    cluster: LocalCluster, cluster_harness: Harness
):
    source, target, third = cluster.nodes
    owners = cluster.owners()
    slots = [slot for slot in range(0, 16384, 97) if owners[slot] == source.port][:6]
    moving = hashes_in_slots(slots, 20)
    hashes = random_hashes(2500) + moving
    random.shuffle(hashes)
    source_id, target_id = cluster.node_id(source), cluster.node_id(target)
    source_admin, target_admin = cluster.admin(source), cluster.admin(target)
    for node_admin in (source_admin, target_admin):
        node_admin.config_resetstat()
    for slot in slots:  # mid-migration: new keys of these slots are ASKed to the target
        target_admin.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source_admin.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)

    def finish_migration() -> None:  # from now on the source answers MOVED
        for slot in slots:
            keys = source_admin.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
            if keys:
                source_admin.execute_command(
                    "MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys
                )
            for node in (target, source, third):
                cluster.admin(node).execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)

    with FaultWhenHolding(target, 150, finish_migration) as fault:
        result = cluster_harness.blacklist(cluster, hashes, chunk_size=CHUNK, client_kwargs=FAST)
    assert fault.fired.is_set()

    assert result.ok, "redirects are followed, not reported as failures"
    assert error_count(source_admin, "ASK") > 0
    assert error_count(source_admin, "MOVED") > 0
    held = assert_cluster_matches(result, hashes, cluster)
    assert set(moving) <= held[target.port]
    assert_telemetry_matches(cluster_harness.capture, result)
    assert_nodes_reported(cluster_harness.capture, cluster, failed=[])
