"""``token-blacklist doctor``: what in this Redis silently breaks revocation, and the fix."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

import redis
from rich.console import Console

from .._core.classify import classify_error
from ..doctor import Finding, Severity, diagnose
from .causes import describe_cause
from .connection import add_connection_options
from .exit_codes import ExitCode
from .session import UNUSABLE_ERRORS, open_session

__all__ = ["register", "run"]

EPILOG = """\
checks: eviction policy (anything but noeviction can evict revocations), persistence
(AOF/RDB), ACLs for SET/EXPIRE/EXISTS under the prefix (16 probe keys PREFIX:<0-f>doctor-probe
with a 1 s TTL are written; --no-probe skips that) and for ZADD/EXPIRE/EVAL/ZSCORE, which
revoke_all and checks with a subject need, under PREFIX:nbf: (16 keys, nothing written;
--no-revoke-all skips them when the application uses neither), replica / read-only
endpoint, maxmemory close to used memory, and with --cluster slot coverage and every
primary.

examples:
  token-blacklist doctor
  REDIS_PASSWORD=... token-blacklist doctor --redis-url rediss://user@cache:6380/0 --json
  token-blacklist doctor --cluster --redis-url redis://node1:7000

exit codes:
  0    no critical finding (warnings may remain)
  3    at least one critical finding
  5    Redis unreachable (also shown as a critical finding)
  2    wrong options; 1 unexpected error (a bug)
"""

_STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.WARNING: "yellow",
    Severity.INFO: "cyan",
    Severity.OK: "green",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check a Redis for what silently breaks revocation",
        description="Check a Redis for settings that silently break revocation, with fixes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--no-probe", action="store_true", help="write no probe keys")
    parser.add_argument(
        "--no-revoke-all",
        action="store_true",
        help="the application never calls revoke_all nor checks with a subject: "
        "do not probe the ACL of its not-before keys",
    )
    add_connection_options(parser)
    parser.set_defaults(run=run)


def _print_findings(findings: list[Finding], where: str) -> None:
    # soft_wrap: a long fix stays one line in a pipe or a log (rich wraps at 80 otherwise).
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    console.print(f"token-blacklist doctor: {where}", style="bold", markup=False)
    for finding in findings:
        node = f" ({finding.node})" if finding.node else ""
        label = f"{finding.severity.value:<9}"
        console.print(
            f"{label}{finding.check}{node}: {finding.what}",
            style=_STYLES[finding.severity],
            markup=False,
        )
        if finding.fix and finding.severity is not Severity.OK:
            console.print(f"{'':<9}fix: {finding.fix}", markup=False)
    counts = Counter(f.severity.value for f in findings)
    console.print(", ".join(f"{counts[s.value]} {s.value}" for s in Severity), markup=False)


def _unreachable(client: Any, where: str) -> Finding | None:
    """The ``reachable`` finding with the cause (a wrong password, a refused port...)
    when the server does not answer a PING; None when it answers (or denies PING)."""
    try:
        client.ping()
    except redis.exceptions.NoPermissionError:
        return None
    except UNUSABLE_ERRORS as error:
        reason = classify_error(error).value
        cause = describe_cause(error, where.split(":", 1)[0])
        return Finding(
            "reachable",
            Severity.CRITICAL,
            f"Redis does not answer ({reason}: {cause})",
            "check the URL, the network, TLS and credentials (REDIS_USERNAME/REDIS_PASSWORD)",
        )
    return None


def _skipped_probes() -> Finding:
    return Finding(
        "acl",
        Severity.INFO,
        "--no-probe: the ACL rights of this user under the prefix were not checked "
        "(SET/EXPIRE/EXISTS, and ZADD/EXPIRE/EVAL/ZSCORE for revoke_all)",
        "run doctor without --no-probe once, with the application's user",
    )


def run(args: argparse.Namespace) -> int:
    session = open_session(args, "doctor", ping=False)
    if isinstance(session, int):
        return session
    try:
        unreachable = None if args.cluster else _unreachable(session.client, session.where)
        if unreachable is not None:
            findings = [unreachable]
        else:
            findings = diagnose(
                session.client,
                args.prefix,
                probe=not args.no_probe,
                revoke_all=not args.no_revoke_all,
            )
            if args.no_probe:
                findings.append(_skipped_probes())
                order = list(Severity)
                findings.sort(key=lambda f: order.index(f.severity))
    finally:
        session.close()
    if args.json:
        print(json.dumps({"where": session.where, "findings": [f.as_dict() for f in findings]}))
    else:
        _print_findings(findings, session.where)
    if any(f.check == "reachable" for f in findings):
        return ExitCode.UNAVAILABLE
    if any(f.severity is Severity.CRITICAL for f in findings):
        return ExitCode.INCOMPLETE
    return ExitCode.OK
