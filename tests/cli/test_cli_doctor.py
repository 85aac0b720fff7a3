"""``token-blacklist doctor`` and ``diagnose()`` against servers that really have the problem."""

from __future__ import annotations

import json

import pytest
import redis

from conftest import PARTIAL_USER
from token_blacklist import TokenBlacklist, hash_token
from token_blacklist._core.commands import subject_key
from token_blacklist.doctor import Severity, diagnose
from token_blacklist.results import FailureReason
from token_blacklist.server import RedisServer, free_port
from token_blacklist.testing import TelemetryCapture

PREFIX = "token_blacklist"
NBF_CHECKS = ("acl-zadd", "acl-expire", "acl-eval", "acl-zscore")
ADMIN = "default on nopass ~* &* +@all"
PASSWORD = "doctor-test-secret"
TOKENS = f"resetchannels ~{PREFIX}:[0-9a-f]* +@connection +ping +set +expire +exists"
"""What a blacklist of single tokens needs (SET/EXISTS on PREFIX:<hash>), and no more."""


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
    assert not admin.keys(f"{PREFIX}:nbf:*")  # the not-before probes write nothing
    assert {check for check, _ in findings(ran)} >= {"acl-set", "acl-exists", *NBF_CHECKS}
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
    assert severity(ran, "acl-probes") == "info"  # says what it did not check
    assert "ACL rights on the key space were not checked" in plain.out
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
    # ZADD XX on a missing key writes nothing, but a replica refuses it all the same.
    assert found["acl-zadd"].severity is Severity.CRITICAL
    assert "readonly: 16" in found["acl-zadd"].what
    assert found["acl-zscore"].severity is Severity.OK


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


def as_user(server: RedisServer, user: str) -> tuple[str, dict[str, str]]:
    """A --redis-url for ``user`` and the environment carrying its password."""
    return f"redis://{user}@{server.host}:{server.port}/0", {"REDIS_PASSWORD": PASSWORD}


def test_a_user_without_the_not_before_commands_is_critical(cli, make_server):
    """SET/EXISTS allowed, ZADD/EXPIRE/EVAL/ZSCORE not: single tokens work, revoke_all and
    subject-aware checks fail, and the doctor says so; its fix makes both work."""
    server = make_server({"user": [ADMIN, f"tokens on >{PASSWORD} {TOKENS}"]})
    url, env = as_user(server, "tokens")
    ran = cli("doctor", "--json", "--redis-url", url, env=env)
    assert ran.code == 3, ran.out
    assert severity(ran, "acl-set") == severity(ran, "acl-exists") == "ok"
    for check in NBF_CHECKS:
        finding = findings(ran)[(check, None)]
        assert finding["severity"] == "critical", finding
        assert f"16 of 16 probe keys under {PREFIX}:nbf: (noperm: 16)" in finding["what"]
        assert finding["fix"].startswith(
            f"ACL SETUSER tokens +eval +zadd +expire +zscore ~{PREFIX}:nbf:*;"
        )  # the whole command, with the user doctor connected as
        assert "--no-revoke-all" in finding["fix"]
    assert (
        "revoke_all (log out everywhere) returns ok=False"
        in findings(ran)[("acl-zadd", None)]["what"]
    )
    assert (
        "every check with subject= and issued_at= errors"
        in findings(ran)[("acl-zscore", None)]["what"]
    )

    plain = cli("doctor", "--redis-url", url, env=env)
    assert plain.code == 3
    assert "critical acl-zscore: ZSCORE failed on 16 of 16 probe keys" in plain.out
    assert f"fix: ACL SETUSER tokens +eval +zadd +expire +zscore ~{PREFIX}:nbf:*" in plain.out
    assert PASSWORD not in plain.out + plain.err

    skipped = cli("doctor", "--json", "--no-revoke-all", "--redis-url", url, env=env)
    assert skipped.code == 0, skipped.out  # INFO denied is a warning only
    assert not {check for check, _ in findings(skipped)} & set(NBF_CHECKS)

    # What the findings claim, through the library as this user.
    token = hash_token("a token never revoked")
    admin = server.client()
    user = redis.Redis(host=server.host, port=server.port, username="tokens", password=PASSWORD)
    with user as r:
        blacklist = TokenBlacklist(r, PREFIX, **TelemetryCapture().kwargs(), on_check_error="deny")
        failed = blacklist.revoke_all("alice", 600)
        assert not failed.ok and failed.reason is FailureReason.NOPERM
        assert blacklist.is_blacklisted(token, subject="alice", issued_at=0)  # fails closed

        # The fix, run as printed: the doctor passes and both calls work.
        command = findings(ran)[("acl-zadd", None)]["fix"].split(";")[0]
        admin.execute_command(*command.split())
        fixed = cli("doctor", "--json", "--redis-url", url, env=env)
        assert fixed.code == 0, fixed.out
        assert {severity(fixed, check) for check in NBF_CHECKS} == {"ok"}
        assert blacklist.revoke_all("bob", 600).ok
        assert not blacklist.is_blacklisted(token, subject="alice", issued_at=0)
        assert admin.exists(subject_key(f"{PREFIX}:", "bob"))
    assert not admin.keys(f"{PREFIX}:nbf:*doctor-probe")  # nothing left behind
    admin.close()


def test_not_before_keys_outside_the_acl_key_patterns(cli, make_server):
    """The commands allowed, but not on PREFIX:nbf:* (a pattern written for token hashes),
    or only on part of it: revoke_all fails for the subjects whose keys are denied."""
    server = make_server(
        {
            "user": [
                ADMIN,
                f"hashes on >{PASSWORD} {TOKENS} +eval +zadd +expire +zscore",
                f"half on >{PASSWORD} {TOKENS} +eval +zadd +expire +zscore ~{PREFIX}:nbf:[0-7]*",
            ]
        }
    )
    url, env = as_user(server, "hashes")
    ran = cli("doctor", "--json", "--redis-url", url, env=env)
    assert ran.code == 3, ran.out
    assert severity(ran, "acl-set") == "ok"
    for check in NBF_CHECKS:
        assert severity(ran, check) == "critical"
        assert "16 of 16 probe keys" in findings(ran)[(check, None)]["what"]

    url, env = as_user(server, "half")
    ran = cli("doctor", "--json", "--redis-url", url, env=env)
    assert ran.code == 3, ran.out
    zadd = findings(ran)[("acl-zadd", None)]
    assert zadd["severity"] == "critical"
    assert "8 of 16 probe keys under token_blacklist:nbf: (noperm: 8)" in zadd["what"]
    assert "(noperm: 8): for the subjects whose keys fail like these, revoke_all" in zadd["what"]
