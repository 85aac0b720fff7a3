"""``token-blacklist doctor`` and ``diagnose()`` against servers that really have the problem."""

from __future__ import annotations

import json

import pytest

from conftest import PARTIAL_USER
from token_blacklist.doctor import Severity, diagnose
from token_blacklist.server import RedisServer, free_port

PREFIX = "token_blacklist"


def findings(ran) -> dict[str, dict]:
    return {(f["check"], f["node"]): f for f in json.loads(ran.out)["findings"]}


def severity(ran, check: str, node: str | None = None) -> str:
    return findings(ran)[(check, node)]["severity"]


def test_a_sound_server_passes_and_probes_stay_inside_the_prefix(cli, make_server):
    server = make_server({"appendonly": "yes", "maxmemory": "512mb"})
    admin = server.client()
    admin.set("other-app:key", "kept")
    ran = cli("doctor", "--json", "--redis-url", server.url)
    assert ran.code == 0, ran.out
    assert {f["severity"] for f in json.loads(ran.out)["findings"]} == {"ok"}
    keys = {k.decode() for k in admin.keys("*")}
    assert "other-app:key" in keys
    assert all(
        k.startswith(f"{PREFIX}:") and k.endswith("doctor-probe") for k in keys - {"other-app:key"}
    )
    assert all(admin.ttl(k) <= 1 for k in keys - {"other-app:key"})
    admin.close()


def test_eviction_policy_memory_and_persistence(cli, make_server):
    server = make_server({"maxmemory-policy": "allkeys-lru"})
    admin = server.client()
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", int(used / 0.9))
    ran = cli("doctor", "--json", "--no-probe", "--redis-url", server.url)
    assert ran.code == 3
    assert severity(ran, "eviction-policy") == "critical"
    assert severity(ran, "memory") in ("warning", "critical")
    assert severity(ran, "persistence") == "warning"
    assert "allkeys-lru" in findings(ran)[("eviction-policy", None)]["what"]
    plain = cli("doctor", "--no-probe", "--redis-url", server.url)
    assert plain.code == 3 and "fix: CONFIG SET maxmemory-policy noeviction" in plain.out
    admin.close()


def test_acl_that_denies_part_of_the_prefix(cli, acl_server):
    user, password = PARTIAL_USER
    url = f"redis://{user}@{acl_server.host}:{acl_server.port}/0"
    ran = cli("doctor", "--json", "--redis-url", url, env={"REDIS_PASSWORD": password})
    assert ran.code == 3
    acl = findings(ran)[("acl-set", None)]
    assert acl["severity"] == "critical"
    assert "8 of 16 probe keys" in acl["what"] and "noperm: 8" in acl["what"]
    assert severity(ran, "info") == "warning"  # INFO is denied to this user
    assert password not in ran.out + ran.err


def test_a_replica_is_critical(replica_server):
    found = {f.check: f for f in diagnose(replica_server.client(), PREFIX)}
    assert found["role"].severity is Severity.CRITICAL
    assert found["acl-set"].severity is Severity.CRITICAL
    assert "readonly: 16" in found["acl-set"].what


def test_unreachable_is_exit_5(cli):
    ran = cli("doctor", "--json", "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert ran.code == 5
    assert severity(ran, "reachable") == "critical"


@pytest.fixture
def half_covered_cluster():
    """One cluster-mode node owning only half of the slots."""
    with RedisServer({"cluster-enabled": "yes", "cluster-config-file": "nodes.conf"}) as node:
        node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 8191)
        yield node


def test_cluster_slots_not_covered(cli, half_covered_cluster):
    ran = cli(
        "doctor", "--json", "--cluster", "--no-probe", "--redis-url", half_covered_cluster.url
    )
    assert ran.code == 3, ran.err
    slots = findings(ran)[("cluster-slots", None)]
    assert slots["severity"] == "critical" and slots["what"].startswith("8192 of 16384")


def test_cluster_eviction_policy_per_node(cli, cluster):
    node = cluster.nodes[1]
    address = f"{node.host}:{node.port}"
    ok = cli("doctor", "--json", "--cluster", "--redis-url", cluster.nodes[0].url)
    assert ok.code == 0, ok.out
    assert severity(ok, "cluster-slots") == "ok"
    assert severity(ok, "acl-set") == "ok"
    assert {n for (check, n) in findings(ok) if check == "eviction-policy"} == {
        f"{n.host}:{n.port}" for n in cluster.nodes
    }
    cluster.admin(node).config_set("maxmemory-policy", "volatile-lru")
    try:
        ran = cli("doctor", "--json", "--cluster", "--redis-url", cluster.nodes[0].url)
    finally:
        cluster.admin(node).config_set("maxmemory-policy", "noeviction")
    assert ran.code == 3
    evictions = {
        n: f["severity"] for (check, n), f in findings(ran).items() if check == "eviction-policy"
    }
    assert evictions.pop(address) == "critical"
    assert set(evictions.values()) == {"ok"}
