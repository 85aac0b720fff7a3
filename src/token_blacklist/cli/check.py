"""``token-blacklist check``: is this hash (or are these) blacklisted? The exit code says."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from .. import TokenBlacklist
from ..errors import BlacklistUnavailableError
from .causes import unusable_message
from .connection import add_connection_options
from .exit_codes import ExitCode
from .observability import add_log_options, command_logger
from .session import open_session
from .token_lines import Entry, InputError, batched, raw_token_hasher, read_entries

__all__ = ["register", "run"]

EPILOG = """\
Hashes come from the arguments, or from stdin (one a line) when there are none or the
argument is -. Raw tokens are never accepted as arguments (shell history, ps): pipe them
with --hash, and the output names their line number instead of the token.

output: one line per distinct hash, "HASH<TAB>blacklisted" or "HASH<TAB>not-blacklisted".

examples:
  token-blacklist check 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  token-blacklist check --quiet - < hashes.txt && echo "all revoked"
  printf '%s\\n' "$TOKEN" | token-blacklist check --hash

exit codes:
  0    every hash is blacklisted
  3    at least one hash is not blacklisted
  4    unusable input (the line number is printed, never the value)
  5    Redis unreachable, or the check failed (nothing is assumed)
  2    wrong options; 1 unexpected error (a bug)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="tell whether token hashes are blacklisted (exit code 0 = all are)",
        description="Tell whether token hashes are blacklisted.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("hashes", nargs="*", metavar="HASH", help="default: read stdin")
    parser.add_argument("--hash", action="store_true", help="stdin holds raw tokens: hash them")
    parser.add_argument(
        "--hmac-key-env",
        default="TOKEN_BLACKLIST_HMAC_KEY",
        metavar="VAR",
        help="environment variable holding the HMAC key for --hash (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing; exit code only")
    add_log_options(parser)
    add_connection_options(parser)
    parser.set_defaults(run=run)


def _entries(args: argparse.Namespace) -> list[Entry]:
    if args.hash and args.hashes and args.hashes != ["-"]:
        raise InputError(0, "raw tokens are read from stdin only, never from arguments")
    from_stdin = not args.hashes or args.hashes == ["-"]
    lines: Iterable[bytes | str] = sys.stdin.buffer if from_stdin else args.hashes
    key = os.environ.get(args.hmac_key_env) if args.hash else None
    hasher = raw_token_hasher(key.encode("utf-8") if key else None) if args.hash else None
    unit = "line" if from_stdin else "argument"
    entries = list(read_entries(lines, hasher=hasher, need_ttl=False, unit=unit))
    if not entries:
        raise InputError(0, "no token hash given (as arguments, or one a line on stdin)")
    return entries


def _identify(entry: Entry, raw: bool) -> dict[str, str | int]:
    # A raw token is a secret: name its line instead.
    return {"line": entry.line} if raw else {"hash": entry.token_hash}


def _print(args: argparse.Namespace, entries: list[Entry], found: set[str]) -> None:
    if args.quiet:
        return
    first: dict[str, Entry] = {}
    for entry in entries:
        first.setdefault(entry.token_hash, entry)
    if args.json:
        results = [
            _identify(entry, args.hash) | {"blacklisted": h in found} for h, entry in first.items()
        ]
        print(json.dumps({"checked": len(first), "blacklisted": len(found), "results": results}))
        return
    for token_hash, entry in first.items():
        status = "blacklisted" if token_hash in found else "not-blacklisted"
        label = f"line {entry.line}" if args.hash else token_hash
        print(f"{label}\t{status}")


def run(args: argparse.Namespace) -> int:
    logger = command_logger(sys.stderr, args.log_format, args.log_level)
    try:
        entries = _entries(args)
    except InputError as error:
        print(f"token-blacklist check: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    session = open_session(args, "check")
    if isinstance(session, int):
        return session
    try:
        blacklist = TokenBlacklist(
            session.client, args.prefix, registry=CollectorRegistry(), logger=logger
        )
        found: set[str] = set()
        for batch in batched(entries, 1000):
            found |= blacklist.blacklisted([e.token_hash for e in batch])
    except BlacklistUnavailableError as error:
        cause = error.__cause__ or error.__context__
        print(
            unusable_message("check", session.where, cause)
            if cause
            else f"token-blacklist check: {error}",
            file=sys.stderr,
        )
        return ExitCode.UNAVAILABLE
    finally:
        session.close()
    _print(args, entries, found)
    distinct = {e.token_hash for e in entries}
    return ExitCode.OK if distinct <= found else ExitCode.INCOMPLETE
