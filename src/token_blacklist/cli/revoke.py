"""``token-blacklist revoke``: blacklist token hashes in bulk from a file or stdin."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from prometheus_client import CollectorRegistry

from .. import TokenBlacklist
from .._core.validation import MAX_TTL_SECONDS
from ..results import UNREACHABLE, FailureReason
from .connection import add_connection_options
from .exit_codes import EXIT_CODES_HELP, ExitCode
from .observability import LOG_LEVELS, configure_logging, tracer_provider
from .progress import PROGRESS_MODES, ProgressReporter, make_progress
from .session import RedisSession, open_session
from .summary import RevokeSummary
from .token_lines import Entry, InputError, batched, open_input, raw_token_hasher, read_entries

__all__ = ["register", "run"]

DEFAULT_HMAC_ENV = "TOKEN_BLACKLIST_HMAC_KEY"
# Plainly down, or a login Redis refuses: neither heals within one run, so stop sending.
_DOWN = UNREACHABLE | {FailureReason.AUTH}

EPILOG = f"""\
input: one token hash a line, optionally followed by a TTL in seconds (space, tab or
comma separated); blank lines and lines starting with # are skipped. With --hash the
first column is a raw token, hashed with SHA-256 (HMAC-SHA-256 when the environment
variable named by --hmac-key-env, default {DEFAULT_HMAC_ENV}, is set).
--failed-out always holds hashes: re-run on it without --hash.

examples:
  token-blacklist revoke --ttl 3600 hashes.txt
  cut -f1 leaked.tsv | token-blacklist revoke --hash --ttl 86400 --failed-out retry.txt -
  token-blacklist revoke --json --failed-out retry.txt hashes-with-ttl.csv

{EXIT_CODES_HELP}"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "revoke",
        help="blacklist token hashes in bulk (file or stdin, streaming)",
        description="Blacklist token hashes read from FILE or stdin, in batches, and report "
        "exactly which ones failed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", nargs="?", default="-", metavar="FILE", help="default: stdin")
    parser.add_argument("--ttl", type=int, metavar="SECONDS", help="TTL for lines without one")
    parser.add_argument("--hash", action="store_true", help="lines hold raw tokens: hash them")
    parser.add_argument(
        "--hmac-key-env",
        default=DEFAULT_HMAC_ENV,
        metavar="VAR",
        help="environment variable holding the HMAC key for --hash (default: %(default)s)",
    )
    parser.add_argument("--failed-out", metavar="FILE", help="write the hashes that failed here")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--batch-size", type=int, default=10_000, help="default: %(default)s")
    parser.add_argument("--progress", choices=PROGRESS_MODES, default="auto")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="warning")
    add_connection_options(parser)
    parser.set_defaults(run=run)


def _hmac_key(args: argparse.Namespace) -> bytes | None:
    value = os.environ.get(args.hmac_key_env) if args.hash else None
    if args.hash:
        how = f"HMAC-SHA-256 (key from ${args.hmac_key_env})" if value else "SHA-256"
        print(f"token-blacklist revoke: hashing raw tokens with {how}", file=sys.stderr)
    return value.encode("utf-8") if value else None


def _check_options(args: argparse.Namespace) -> str | None:
    if args.ttl is not None and not 1 <= args.ttl <= MAX_TTL_SECONDS:
        return f"--ttl must be between 1 and {MAX_TTL_SECONDS} seconds"
    if not 1 <= args.batch_size <= 1_000_000:
        return "--batch-size must be between 1 and 1000000"
    return None


def _ttl_spec(batch: list[Entry], default: int | None) -> int | dict[str, int]:
    if default is not None and all(e.ttl is None for e in batch):
        return default
    ttls: dict[str, int] = {}
    for entry in batch:
        ttl = entry.ttl if entry.ttl is not None else default
        assert ttl is not None  # read_entries refuses a line without TTL when no default
        # The same hash twice in a batch: keep it revoked for the longer of the two.
        ttls[entry.token_hash] = max(ttl, ttls.get(entry.token_hash, 0))
    return ttls


def _write_failed(out: IO[str] | None, batch: Iterable[Entry], failed: set[str]) -> None:
    if out is None or not failed:
        return
    written: set[str] = set()
    for entry in batch:
        if entry.token_hash in failed and entry.token_hash not in written:
            written.add(entry.token_hash)
            out.write(entry.as_line() + "\n")
    out.flush()


def _revoke_all(  # noqa: PLR0917 - private, called once
    blacklist: TokenBlacklist,
    batches: Iterator[list[Entry]],
    default_ttl: int | None,
    failed_out: IO[str] | None,
    progress: ProgressReporter,
    summary: RevokeSummary,
) -> None:
    """Send batch after batch; once Redis is plainly down, stop sending and list the rest."""
    down: FailureReason | None = None
    for batch in batches:
        if down is not None:
            distinct = {e.token_hash for e in batch}
            summary.add_unsent(len(batch), len(distinct), down)
            _write_failed(failed_out, batch, distinct)
        else:
            result = blacklist.blacklist_tokens(
                [e.token_hash for e in batch], _ttl_spec(batch, default_ttl)
            )
            summary.add(len(batch), result)
            _write_failed(failed_out, batch, set(result.failures))
            reasons = set(result.reasons)
            if result.succeeded == 0 and len(reasons) == 1 and reasons <= _DOWN:
                down = reasons.pop()
        progress.update(summary.requested, summary.failed)


def _exit_code(summary: RevokeSummary) -> ExitCode:
    if summary.interrupted:
        return ExitCode.INTERRUPTED
    if summary.input_error:
        return ExitCode.BAD_INPUT
    return ExitCode.INCOMPLETE if summary.failed else ExitCode.OK


def _report(args: argparse.Namespace, summary: RevokeSummary, code: ExitCode) -> None:
    if args.json:
        summary.write_json(sys.stdout, int(code), args.failed_out)
    else:
        summary.write_table(sys.stdout, args.failed_out)
    if summary.input_error:
        print(f"token-blacklist revoke: {summary.input_error}", file=sys.stderr)


def _blacklist(
    args: argparse.Namespace, stack: contextlib.ExitStack, client: Any
) -> TokenBlacklist:
    """The client for this run: JSON logs on stderr, spans to OTLP only when configured."""
    provider = tracer_provider("token-blacklist", None)
    if provider is not None:
        stack.callback(provider.shutdown)
    return TokenBlacklist(
        client,
        args.prefix,
        registry=CollectorRegistry(),  # nobody scrapes a one-shot command
        tracer_provider=provider,
        logger=configure_logging(sys.stderr, args.log_level),
    )


def _run_batches(
    args: argparse.Namespace, blacklist: TokenBlacklist, source: IO[str], failed_out: IO[str] | None
) -> RevokeSummary:
    entries = read_entries(
        source,
        hasher=raw_token_hasher(_hmac_key(args)) if args.hash else None,
        default_ttl=args.ttl,
    )
    summary = RevokeSummary()
    progress = make_progress(args.progress, sys.stderr)
    try:
        _revoke_all(
            blacklist, batched(entries, args.batch_size), args.ttl, failed_out, progress, summary
        )
    except InputError as error:
        summary.input_error = str(error)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        progress.close()
    return summary


def run(args: argparse.Namespace) -> int:
    problem = _check_options(args)
    if problem:
        print(f"token-blacklist revoke: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    with contextlib.ExitStack() as stack:
        try:
            source = stack.enter_context(open_input(args.input, sys.stdin))
            failed_out = (
                stack.enter_context(open(args.failed_out, "w", encoding="utf-8"))
                if args.failed_out
                else None
            )
        except OSError as error:
            print(f"token-blacklist revoke: cannot open a file ({error.strerror})", file=sys.stderr)
            return ExitCode.BAD_INPUT
        session: RedisSession | int = open_session(args, "revoke")
        if isinstance(session, int):
            return session
        stack.callback(session.close)
        summary = _run_batches(args, _blacklist(args, stack, session.client), source, failed_out)
        code = _exit_code(summary)
        _report(args, summary, code)
        return code
