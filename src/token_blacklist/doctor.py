"""Checks a Redis for what silently breaks revocation, and says how to fix each problem.

``diagnose(client, prefix)`` works on a ``redis.Redis`` or a ``redis.cluster.RedisCluster``
and never raises for Redis failures: an unreachable server is itself a finding. Findings
carry counts, settings and error classes, never a Redis error message (it may hold keys).

It writes 16 probe keys ``{prefix}:{0-f}doctor-probe`` with a 1-second TTL, inside the
prefix only, to prove that this user may ``SET`` and ``EXISTS`` there: an ACL pattern
such as ``~prefix:[0-7]*`` lets some hashes through and denies the others.

``revoke_all`` ("log out everywhere") and subject-aware checks use other commands on other
keys, ``{prefix}:nbf:{sha256(subject)}`` (see :mod:`.subjects`), so the same is proved for
``ZADD``, ``EXPIRE`` and ``ZSCORE`` on 16 keys ``{prefix}:nbf:{0-f}doctor-probe``. These
probes write nothing: ``ZADD ... XX GT`` only updates a member that exists and
``EXPIRE ... NX`` only a key that exists, and none does, while Redis checks the ACL (and
refuses ``ZADD`` on a replica or out of memory) before it looks at the key. The probed
forms are the ones ``revoke_all`` sends, so a server without ``EXPIRE ... NX`` (Redis
before 7.0) fails the ``EXPIRE`` probe too. A denied not-before command is critical: the
doctor cannot know whether the application calls ``revoke_all``, and if it does every
such call (or every check with a subject) fails; ``revoke_all=False`` says it does not.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from ._core.classify import classify_error
from ._core.commands import NOT_BEFORE_MEMBER
from ._core.validation import validate_prefix

__all__ = ["CLUSTER_SLOTS", "Finding", "Severity", "diagnose"]

CLUSTER_SLOTS = 16384
PROBE_CHARS = "0123456789abcdef"
MEMORY_WARNING = 0.80
MEMORY_CRITICAL = 0.95


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    """Revocations fail or can be lost now: fix before relying on the blacklist."""
    WARNING = "warning"
    """Revocations can be lost in a foreseeable event (restart, memory growth)."""
    INFO = "info"
    """Worth knowing; nothing to fix necessarily."""
    OK = "ok"
    """The check passed."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of one check: ``check`` is a stable identifier, ``node`` a host:port."""

    check: str
    severity: Severity
    what: str
    fix: str = ""
    node: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "what": self.what,
            "fix": self.fix,
            "node": self.node,
        }


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
    checks: list[InfoCheck] = [_role, _eviction, _memory]
    found = [check(info) for check in checks] + [_persistence(client, info)]
    return [Finding(f.check, f.severity, f.what, f.fix, node) for f in found]


@dataclass(frozen=True, slots=True)
class _Probe:
    """One command sent to the 16 probe keys of one key space of the prefix."""

    command: str
    space: str
    """What follows ``{prefix}:`` in the keys the library sends this command to."""
    send: Callable[[Any, str], object]
    breaks: str = ""
    """What fails when the command is denied, when the command name does not say it."""


_PROBES = (
    _Probe("SET", "", lambda client, key: client.set(key, b"1", ex=1)),
    _Probe("EXISTS", "", lambda client, key: client.exists(key)),
    # XX: only an existing member is updated, and the probe key never exists.
    _Probe(
        "ZADD",
        "nbf:",
        lambda client, key: client.zadd(key, {NOT_BEFORE_MEMBER: 0}, xx=True, gt=True),
        "revoke_all (log out everywhere) returns ok=False and the subject's tokens stay valid",
    ),
    # NX on a missing key: nothing to expire; it is the EXPIRE form revoke_all sends.
    _Probe(
        "EXPIRE",
        "nbf:",
        lambda client, key: client.expire(key, 1, nx=True),
        "revoke_all (log out everywhere) returns ok=False; when ZADD is allowed the "
        "not-before is stored anyway, with no expiry: the key never leaves Redis",
    ),
    _Probe(
        "ZSCORE",
        "nbf:",
        lambda client, key: client.zscore(key, NOT_BEFORE_MEMBER),
        "every check with subject= and issued_at= errors unless the token's own hash is "
        "blacklisted: on the authentication path, the application then rejects every such "
        "request or lets tokens revoked by revoke_all through",
    ),
)


def _probe(client: Any, probe: _Probe, key: str) -> str | None:
    try:
        probe.send(client, key)
    except (redis.RedisError, OSError) as error:
        return classify_error(error).value
    return None


def _fix(probe: _Probe, prefix: str, reason: str, user: str) -> str:
    """The fix for the most frequent failure reason of one probed command: for NOPERM,
    the whole ACL SETUSER command for this user (it adds rights, and removes none)."""
    fixes = {
        "oom": "free memory or raise maxmemory (see the memory finding)",
        "readonly": "use the primary (see the role finding)",
    }
    if not probe.space:
        fixes["noperm"] = f"ACL SETUSER {user} +set +exists ~{prefix}:*"
        return fixes.get(reason, "see the other findings")
    skip = (
        "; if the application never calls revoke_all nor checks with subject=, "
        "run doctor --no-revoke-all instead"
    )
    fixes["noperm"] = f"ACL SETUSER {user} +zadd +expire +zscore ~{prefix}:nbf:*"
    # EXPIRE ... NX is a syntax error before Redis 7.0: an error reply classed "other".
    fixes["other"] = "revoke_all needs Redis >= 7.0 (EXPIRE ... NX|GT), else see the other findings"
    fix = fixes.get(reason, "see the other findings")
    return fix + skip if reason in ("noperm", "other") else fix


def _probe_findings(client: Any, prefix: str, probes: tuple[_Probe, ...]) -> list[Finding]:
    """Each command on one probe key per leading hex digit, to catch partial ACL patterns."""
    findings: list[Finding] = []
    user = client.get_connection_kwargs().get("username") or "default"  # as Redis's AUTH
    for probe in probes:
        where = f"{prefix}:{probe.space}"
        check = f"acl-{probe.command.lower()}"
        reasons = Counter(
            reason
            for char in PROBE_CHARS
            if (reason := _probe(client, probe, f"{where}{char}doctor-probe")) is not None
        )
        if not reasons:
            findings.append(Finding(check, Severity.OK, f"{probe.command} works under {where}"))
            continue
        failed = sum(reasons.values())
        detail = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common())
        what = (
            f"{probe.command} failed on {failed} of {len(PROBE_CHARS)} probe keys under "
            f"{where} ({detail})"
        )
        if probe.breaks:
            scope = (
                "for the subjects whose keys fail like these, " if failed < len(PROBE_CHARS) else ""
            )
            what += f": {scope}{probe.breaks}"
        fix = _fix(probe, prefix, reasons.most_common(1)[0][0], user)
        findings.append(Finding(check, Severity.CRITICAL, what, fix))
    return findings


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
        probes = _PROBES if revoke_all else tuple(p for p in _PROBES if not p.space)
        findings += _probe_findings(client, prefix, probes)
    elif not probe:
        what = "ACL rights on the key space were not checked (--no-probe / probe=False)"
        findings.append(Finding("acl-probes", Severity.INFO, what, "run without --no-probe"))
    order = list(Severity)
    return sorted(findings, key=lambda f: order.index(f.severity))
