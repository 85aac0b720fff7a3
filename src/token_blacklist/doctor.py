"""Checks a Redis for what silently breaks revocation, and says how to fix each problem.

``diagnose(client, prefix)`` works on a ``redis.Redis`` or a ``redis.cluster.RedisCluster``
and never raises for Redis failures: an unreachable server is itself a finding. Findings
carry counts, settings and error classes, never a Redis error message (it may hold keys).

It writes 16 probe keys ``{prefix}:{0-f}doctor-probe`` with a 1-second TTL, inside the
prefix only, to prove that this user may ``SET``, ``EXPIRE`` (a re-revocation's
``EXPIRE ... GT``) and ``EXISTS`` there: an ACL pattern
such as ``~prefix:[0-7]*`` lets some hashes through and denies the others.

``revoke_all`` ("log out everywhere") and subject-aware checks use other commands on other
keys, ``{prefix}:nbf:{sha256(subject)}`` (see :mod:`.subjects`), so the same is proved for
``ZADD``, ``EXPIRE``, ``EVAL`` and ``ZSCORE`` on 16 keys ``{prefix}:nbf:{0-f}doctor-probe``
(``revoke_all`` runs ``ZADD`` and the ``EXPIRE`` s inside one ``EVAL``, so it needs all
three rights). These probes write nothing: ``ZADD ... XX GT`` only updates a member that
exists and ``EXPIRE ... NX`` only a key that exists, and none does, and the probe script
is ``return 0`` with the real one's ``#!lua`` shebang, while Redis checks the ACL (and
refuses ``ZADD`` and a write script on a replica or out of memory) before it looks at the
key. The probed
forms are the ones ``revoke_all`` sends, so a server without ``EXPIRE ... NX`` (Redis
before 7.0) fails the ``EXPIRE`` probe too. A denied not-before command is critical: the
doctor cannot know whether the application calls ``revoke_all``, and if it does every
such call (or every check with a subject) fails; ``revoke_all=False`` says it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis

from ._acl_probes import PROBES, probe_findings
from ._core.classify import classify_error
from ._core.server_version import EXPIRE_OPTIONS, server_version
from ._core.validation import validate_prefix
from ._findings import Finding, Severity

__all__ = ["CLUSTER_SLOTS", "Finding", "Severity", "diagnose"]

CLUSTER_SLOTS = 16384
MEMORY_WARNING = 0.80
MEMORY_CRITICAL = 0.95


Info = Mapping[str, Any]
InfoCheck = Callable[[Info], Finding]


def _eviction(info: Info) -> Finding:
    policy = str(info.get("maxmemory_policy", "?"))
    if policy == "noeviction":
        return Finding("eviction-policy", Severity.OK, "maxmemory-policy is noeviction")
    return Finding(
        "eviction-policy",
        Severity.CRITICAL,
        f"maxmemory-policy is {policy}: under memory pressure Redis may evict revocations "
        "(keys with a TTL), and a revoked token becomes valid again",
        "CONFIG SET maxmemory-policy noeviction (and in redis.conf), or use a dedicated "
        "Redis for the blacklist; writes then fail loudly with OOM instead",
    )


def _server_version(info: Info) -> Finding:
    found = server_version(info)
    needed = ".".join(map(str, EXPIRE_OPTIONS))
    if found is None:
        return Finding("server-version", Severity.WARNING, "the server did not say its version")
    if found.at_least(EXPIRE_OPTIONS):
        return Finding(
            "server-version", Severity.OK, f"{found}: the library needs Redis {needed} or later"
        )
    return Finding(
        "server-version",
        Severity.CRITICAL,
        f"{found}: the library needs Redis {needed} or later (EXPIRE ... NX|GT); blacklist "
        "writes and revoke_all raise UnsupportedServerError, checks still work",
        f"upgrade to Redis {needed} or later, or Valkey",
    )


def _memory(info: Info) -> Finding:
    used = int(info.get("used_memory", 0))
    limit = int(info.get("maxmemory", 0))
    if limit <= 0:
        return Finding(
            "memory",
            Severity.INFO,
            f"no maxmemory limit (used {used:,} bytes): the OS limits memory instead",
            "set maxmemory with maxmemory-policy noeviction so a full Redis refuses writes "
            "instead of being killed",
        )
    ratio = used / limit
    text = f"used memory is {ratio:.0%} of maxmemory ({used:,} of {limit:,} bytes)"
    if ratio < MEMORY_WARNING:
        return Finding("memory", Severity.OK, text)
    severity = Severity.CRITICAL if ratio >= MEMORY_CRITICAL else Severity.WARNING
    return Finding(
        "memory",
        severity,
        text + ": new revocations will fail with OOM when it is reached",
        "raise maxmemory, or free memory (other data sharing this Redis)",
    )


def _role(info: Info) -> Finding:
    role = str(info.get("role", "?"))
    if role == "master":
        return Finding("role", Severity.OK, "the endpoint is a primary")
    return Finding(
        "role",
        Severity.CRITICAL,
        f"the endpoint is a {role} (read-only): every revocation fails with READONLY",
        "point --redis-url (and the application) at the primary, or at a Sentinel/cluster "
        "aware endpoint that follows failovers",
    )


def _persistence(client: Any, info: Info) -> Finding:
    if int(info.get("aof_enabled", 0)) == 1:
        return Finding("persistence", Severity.OK, "append-only file is on")
    try:
        save = client.config_get("save").get("save", "")
    except (redis.RedisError, OSError) as error:
        return Finding(
            "persistence",
            Severity.WARNING,
            f"AOF is off and the snapshot settings cannot be read ({classify_error(error).value})",
            "check by hand that appendonly yes is set: without persistence a restart forgets "
            "every revocation",
        )
    if not str(save).strip():
        return Finding(
            "persistence",
            Severity.WARNING,
            "persistence is off (no AOF, no RDB snapshots): a restart forgets every revocation",
            "CONFIG SET appendonly yes (and in redis.conf); a replica alone does not survive "
            "a restart of both",
        )
    return Finding(
        "persistence",
        Severity.INFO,
        "RDB snapshots only: revocations since the last snapshot are lost on a crash",
        "CONFIG SET appendonly yes for revocations that survive a crash",
    )


def _node_findings(client: Any, node: str | None) -> list[Finding]:
    """Reachability, role, eviction policy, memory and persistence of one server."""
    try:
        info = client.info()
    except redis.exceptions.NoPermissionError:
        return [
            Finding(
                "info",
                Severity.WARNING,
                "INFO is denied to this user: eviction policy, memory, role and persistence "
                "were not checked",
                "run doctor with a user allowed INFO and CONFIG GET (e.g. +info +config|get)",
                node,
            )
        ]
    except (redis.RedisError, OSError) as error:
        return [
            Finding(
                "reachable",
                Severity.CRITICAL,
                f"Redis does not answer ({classify_error(error).value}: {type(error).__name__})",
                "check the URL, the network, TLS and credentials (REDIS_USERNAME/REDIS_PASSWORD)",
                node,
            )
        ]
    checks: list[InfoCheck] = [_server_version, _role, _eviction, _memory]
    found = [check(info) for check in checks] + [_persistence(client, info)]
    return [Finding(f.check, f.severity, f.what, f.fix, node) for f in found]


def _slot_findings(client: Any) -> list[Finding]:
    try:
        slots = client.cluster_slots()
    except (redis.RedisError, OSError) as error:
        return [
            Finding(
                "cluster-slots",
                Severity.CRITICAL,
                f"CLUSTER SLOTS failed ({classify_error(error).value})",
                "check that every cluster node is up (redis-cli --cluster check HOST:PORT)",
            )
        ]
    covered = sum(end - start + 1 for start, end in slots)
    if covered >= CLUSTER_SLOTS:
        return [Finding("cluster-slots", Severity.OK, f"all {CLUSTER_SLOTS} slots are covered")]
    return [
        Finding(
            "cluster-slots",
            Severity.CRITICAL,
            f"{CLUSTER_SLOTS - covered} of {CLUSTER_SLOTS} hash slots have no node: "
            "revocations of tokens hashed there fail with CLUSTERDOWN",
            "redis-cli --cluster fix HOST:PORT (or CLUSTER ADDSLOTS on a primary)",
        )
    ]


def _cluster_node_findings(client: Any) -> list[Finding]:
    findings: list[Finding] = []
    for node in client.get_primaries():
        connection = client.get_redis_connection(node)
        findings += _node_findings(connection, f"{node.host}:{node.port}")
    return findings


def diagnose(
    client: Any, prefix: str = "token_blacklist", *, probe: bool = True, revoke_all: bool = True
) -> list[Finding]:
    """Every finding about ``client``'s Redis, most severe first.

    ``probe=False`` skips the probe writes (then ACL key patterns are not checked).
    ``revoke_all=False`` skips the probes of the not-before keys, for an application that
    never calls ``revoke_all`` nor checks with ``subject=``: by default a user denied them
    is critical, since every such call would fail.
    """
    validate_prefix(prefix)
    if callable(getattr(client, "get_primaries", None)):
        findings = _slot_findings(client) + _cluster_node_findings(client)
    else:
        findings = _node_findings(client, None)
    if probe and not any(f.check == "reachable" and f.node is None for f in findings):
        probes = PROBES if revoke_all else tuple(p for p in PROBES if not p.space)
        findings += probe_findings(client, prefix, probes)
    elif not probe:
        what = "ACL rights on the key space were not checked (--no-probe / probe=False)"
        findings.append(Finding("acl-probes", Severity.INFO, what, "run without --no-probe"))
    order = list(Severity)
    return sorted(findings, key=lambda f: order.index(f.severity))
