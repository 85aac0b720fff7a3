"""``token-blacklist bench``: what the module costs next to plain redis-py (see
:mod:`token_blacklist.bench`), on a private redis-server or on the Redis the connection
options name (TLS and credentials as for every other command)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

import redis

from ..bench import add_arguments, print_report, run_bench, settings_from
from ..server import RedisServerError
from .connection import ConnectionSettingsError, add_connection_options, client_kwargs
from .exit_codes import ExitCode
from .session import open_session

__all__ = ["register"]

EPILOG = """\
Every case runs against the same Redis, interleaved and repeated: a private redis-server
on loopback unless --redis-url (or $REDIS_URL) names one; rediss:// with --tls-ca-file (or
$REDIS_TLS_CA_FILE) for TLS, credentials from the URL or $REDIS_USERNAME/$REDIS_PASSWORD.
Keys are written under the token_blacklist_bench prefix (whatever --prefix says) with a 300 s
TTL. The report gives best and median rounds and the ratios of both, from this run only.
Takes several minutes at full size; redis-benchmark rows need a plain redis:// URL without
a password.

examples:
  token-blacklist bench
  token-blacklist bench --json > bench.json
  token-blacklist bench --tiny            # seconds: checks that it runs
  token-blacklist bench --redis-url rediss://cache:6380/0 --tls-ca-file ca.pem --tiny"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the module against plain redis-py (best and median rounds, ratios)",
        description="Measure logout calls, checks, bulk revocation, the revoke command and "
        "memory against plain redis-py baselines and the machine's floor, in one run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser, url_default=False)
    add_arguments(parser)
    parser.set_defaults(run=run)


def _unusable(where: str, error: BaseException) -> int:
    print(
        f"token-blacklist bench: Redis at {where} is not usable ({type(error).__name__})",
        file=sys.stderr,
    )
    return ExitCode.UNAVAILABLE


def _usage(problem: str) -> int:
    print(f"token-blacklist bench: {problem}", file=sys.stderr)
    return ExitCode.USAGE


def _target(args: argparse.Namespace) -> tuple[dict[str, Any], str] | int:
    """The client options and printable place of the Redis to measure, or an exit code
    after saying why it cannot be used."""
    if args.cluster:
        return _usage("measures a standalone Redis, not --cluster")
    if not args.redis_url:
        if args.tls_ca_file:
            return _usage("--tls-ca-file needs a rediss:// --redis-url")
        return {}, "a private redis-server"
    try:
        kwargs = client_kwargs(args, args.redis_url)
    except ConnectionSettingsError as error:
        return _usage(str(error))
    session = open_session(args, "bench")  # says why an unusable Redis is unusable
    if isinstance(session, int):
        return session
    session.close()
    return kwargs, session.where


def run(args: argparse.Namespace) -> int:
    target = _target(args)
    if isinstance(target, int):
        return target
    kwargs, where = target
    url: str | None = args.redis_url or None
    try:
        # stdout carries the report only (--json is read by programs): whatever the run
        # prints, such as the library's own warnings through an unconfigured structlog
        # (a cached check's link lost on a loaded machine), goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            report = run_bench(settings_from(args, kwargs), url)
    except RedisServerError as error:
        print(f"token-blacklist bench: {error}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    except (redis.RedisError, OSError) as error:  # Redis went away during the run
        return _unusable(where, error)
    print_report(report, args.json)
    return ExitCode.OK
