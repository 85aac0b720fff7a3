"""The doctor's probes: each command the library sends, on 16 keys of each key space of the
prefix (one per leading hex digit), to catch ACL rules and key patterns that deny part of
it. See :mod:`.doctor` for what each probe proves and why it writes nothing lasting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from ._core.classify import classify_error
from ._core.commands import NOT_BEFORE_MEMBER
from ._findings import Finding, Severity

__all__ = ["PROBES", "PROBE_CHARS", "probe_findings"]

PROBE_CHARS = "0123456789abcdef"


@dataclass(frozen=True, slots=True)
class _Probe:
    """One command sent to the 16 probe keys of one key space of the prefix."""

    command: str
    space: str
    """What follows ``{prefix}:`` in the keys the library sends this command to."""
    send: Callable[[Any, str], object]
    breaks: str = ""
    """What fails when the command is denied, when the command name does not say it."""
    check: str = ""  # the finding's name when ``acl-{command}`` is another key space's


PROBES = (
    _Probe("SET", "", lambda client, key: client.set(key, b"1", ex=1)),
    _Probe("EXISTS", "", lambda client, key: client.exists(key)),
    # GT 1 s on the SET probe's 1 s key changes nothing; it is what a re-revocation sends.
    _Probe(
        "EXPIRE",
        "",
        lambda client, key: client.expire(key, 1, gt=True),
        "re-revoking an already revoked hash fails instead of keeping the longer expiry",
        check="acl-expire-tokens",
    ),
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
    # The not-before script's shebang and ACL, running nothing: +eval on the key, and a
    # write script accepted (refused as a whole on a replica or out of memory).
    _Probe(
        "EVAL",
        "nbf:",
        lambda client, key: client.eval("#!lua\nreturn 0", 1, key),
        "revoke_all (log out everywhere) returns ok=False and the subject's tokens stay valid",
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
        fixes["noperm"] = f"ACL SETUSER {user} +set +expire +exists ~{prefix}:*"
        return fixes.get(reason, "see the other findings")
    skip = (
        "; if the application never calls revoke_all nor checks with subject=, "
        "run doctor --no-revoke-all instead"
    )
    fixes["noperm"] = f"ACL SETUSER {user} +eval +zadd +expire +zscore ~{prefix}:nbf:*"
    # EXPIRE ... NX is a syntax error before Redis 7.0: an error reply classed "other".
    fixes["other"] = "revoke_all needs Redis >= 7.0 (EXPIRE ... NX|GT), else see the other findings"
    fix = fixes.get(reason, "see the other findings")
    return fix + skip if reason in ("noperm", "other") else fix


def probe_findings(client: Any, prefix: str, probes: tuple[_Probe, ...]) -> list[Finding]:
    """Each command on one probe key per leading hex digit, to catch partial ACL patterns."""
    findings: list[Finding] = []
    user = client.get_connection_kwargs().get("username") or "default"  # as Redis's AUTH
    for probe in probes:
        where = f"{prefix}:{probe.space}"
        check = probe.check or f"acl-{probe.command.lower()}"
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
