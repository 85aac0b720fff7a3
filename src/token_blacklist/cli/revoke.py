"""``token-blacklist revoke``: blacklist token hashes in bulk from a file or stdin.

Batching, per-batch validation and the "Redis is plainly down" decision are the library's
(:class:`~token_blacklist.stream.StreamTally`, as in ``blacklist_stream``); this module
adds what a command needs around them: line numbers, ``--failed-out``, progress, and a
clean stop on Ctrl-C or SIGTERM that says where the input stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

from prometheus_client import CollectorRegistry

from .. import TokenBlacklist
from .._core.stream import MAX_BATCH_SIZE, StreamTally
from .._core.validation import MAX_TTL_SECONDS, BlacklistPlan
from ..results import FailureReason
from .connection import add_connection_options
from .exit_codes import EXIT_CODES_HELP, ExitCode
from .observability import add_log_options, command_logger, tracer_provider
from .progress import PROGRESS_MODES, ProgressReporter, make_progress
from .pushgateway import add_pushgateway_options, push_metrics
from .revoke_feed import CountingReader, Feed, write_lines
from .session import RedisSession, open_session
from .stop_signals import StopSignals
from .summary import RevokeSummary
from .token_lines import Block, open_input, raw_token_hasher, read_blocks

__all__ = ["register", "run"]

DEFAULT_HMAC_ENV = "TOKEN_BLACKLIST_HMAC_KEY"
_REFUSED = frozenset({FailureReason.NOPERM.value, FailureReason.AUTH.value})

EPILOG = f"""\
input: one token hash a line, optionally followed by a TTL in seconds (space, tab or
comma separated); blank lines and lines starting with # are skipped. With --hash the
first column is a raw token, hashed with SHA-256 (HMAC-SHA-256 when the environment
variable named by --hmac-key-env, default {DEFAULT_HMAC_ENV}, is set).
--failed-out always holds hashes: re-run on it without --hash.

stopped half-way (Ctrl-C, SIGTERM): the batch being sent is finished (a second Ctrl-C
abandons it), then the command names the first input line it did not read. Every hash
read and not confirmed is in --failed-out; to finish, re-run on --failed-out, and on the
input with --resume-from LINE.

examples:
  token-blacklist revoke --ttl 3600 hashes.txt
  token-blacklist revoke --dry-run --ttl 3600 hashes.txt      # validate and count only
  cut -f1 leaked.tsv | token-blacklist revoke --hash --ttl 86400 --failed-out retry.txt -
  token-blacklist revoke --json --failed-out retry.txt hashes-with-ttl.csv
  token-blacklist revoke --ttl 3600 --failed-out retry2.txt retry.txt   # the re-run

{EXIT_CODES_HELP}"""


def _line_number(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a line number (1 is the first line)") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be a line number (1 is the first line)")
    return number


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
    parser.add_argument(
        "--failed-out",
        metavar="FILE",
        help="write every hash not confirmed here (failed, not sent, or interrupted)",
    )
    parser.add_argument(
        "--resume-from",
        type=_line_number,
        default=1,
        metavar="LINE",
        help="skip the input lines before LINE (after an interrupted run, the line it names)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and count the input; send nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--batch-size", type=int, default=10_000,
        help="input lines read and sent together (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--progress", choices=PROGRESS_MODES, default="auto")
    add_log_options(parser)
    add_pushgateway_options(parser)
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
    if not 1 <= args.batch_size <= MAX_BATCH_SIZE:
        return f"--batch-size must be between 1 and {MAX_BATCH_SIZE}"
    return None


class Revoker:
    """One run: entries in, batches through the tally, totals and ``--failed-out`` out."""

    def __init__(
        self,
        args: argparse.Namespace,
        blacklist: TokenBlacklist | None,
        failed_out: IO[str] | None,
        progress: ProgressReporter,
    ) -> None:
        self.args = args
        self.blacklist = blacklist  # None: --dry-run
        self.failed_out = failed_out
        self.progress = progress
        self.summary = RevokeSummary(dry_run=blacklist is None)
        self.tally = StreamTally()
        self._reader: CountingReader | None = None

    def _update(self) -> None:
        fraction = self._reader.fraction if self._reader else None
        self.progress.update(self.summary.requested, self.summary.failed, fraction)

    def _unsent(self, signals: StopSignals, blocks: list[Block]) -> None:
        # Recorded, listed and emptied (the feed's own list, in place) with a stop signal
        # held: one landing in between would record and list the window twice.
        with signals.deferred():
            reason = self.tally.down or FailureReason.CONNECTION
            distinct = len({h for block in blocks for h in block.hashes})
            self.summary.add_unsent(_count(blocks), distinct, reason)
            write_lines(self.failed_out, blocks, None)
            blocks.clear()
        self._update()

    def _send(self, feed: Feed, signals: StopSignals, plan: BlacklistPlan) -> None:
        # The batch stays in ``feed.pending`` (listed as unconfirmed if the run stops) until
        # its result is recorded: taking it out first left a window where a stop signal
        # lost it from both lists.
        batch = feed.pending
        with signals.deferred():
            if self.blacklist is None:
                self.summary.add_checked(_count(batch), len(plan.hashes))
            else:
                # The plan the tally validated, sent as blacklist_tokens sends it (span,
                # metrics, log event), without validating it a second time.
                result = self.blacklist._blacklist_batch(plan, self.tally.servers_down)
                self.tally.add(result)
                self.tally.failures.clear()  # they stream to --failed-out, not into memory
                self.summary.add(_count(batch), result)
                if result.failures:
                    write_lines(self.failed_out, batch, set(result.failures))
            feed.take()
        self._update()

    def run(self, reader: CountingReader, blocks: Iterable[Block], signals: StopSignals) -> None:
        self._reader = reader
        feed = Feed(blocks, self.tally, self.args.ttl, functools.partial(self._unsent, signals))
        # The chunk size only counts the tally's chunks of unsent batches; not reported here.
        # read_blocks held every hash to validate_hash's rules: not checked a second time.
        plans = self.tally.plans_of(feed, 1000, checked=True)
        started = time.monotonic()
        try:
            for plan in plans:
                self._send(feed, signals, plan)
            feed.flush_unsent()
            signals.finished()
        except KeyboardInterrupt:
            self._interrupted(feed)
        finally:
            self.summary.duration = time.monotonic() - started
        if feed.input_error is not None:
            self.summary.input_error = str(feed.input_error)

    def _interrupted(self, feed: Feed) -> None:
        self.summary.interrupted = True
        last_read = feed.last_read()
        feed.flush_unsent()
        unconfirmed = feed.take()
        self.summary.add_unconfirmed(_count(unconfirmed))
        write_lines(self.failed_out, unconfirmed, None)
        self.summary.resume_from = max(last_read + 1, self.args.resume_from)


def _count(blocks: Iterable[Block]) -> int:
    return sum(len(block.hashes) for block in blocks)


def _exit_code(summary: RevokeSummary) -> ExitCode:
    if summary.interrupted:
        return ExitCode.INTERRUPTED
    if summary.input_error:
        return ExitCode.BAD_INPUT
    if summary.dry_run:
        return ExitCode.OK  # nothing was sent: nothing can have failed
    refused = summary.requested and not summary.succeeded and set(summary.reasons) <= _REFUSED
    if refused and not summary.not_sent:
        return ExitCode.UNAVAILABLE  # this user may write none of the keys: nothing was done
    return ExitCode.INCOMPLETE if summary.failed else ExitCode.OK


def _stop_message(args: argparse.Namespace, summary: RevokeSummary) -> str:
    line = summary.resume_from
    listed = (
        f"every hash read and not confirmed is in {args.failed_out}"
        if args.failed_out
        else f"{summary.unconfirmed + summary.failed:,} hashes read were not confirmed "
        "(--failed-out lists them)"
    )
    source = "" if args.input == "-" else f" {args.input}"
    rerun = f"re-run on {args.failed_out}, then " if args.failed_out else ""
    return (
        f"interrupted before input line {line:,}: {listed}; to finish, {rerun}"
        f"run again with --resume-from {line}{source}"
    )


def _report(args: argparse.Namespace, summary: RevokeSummary, code: ExitCode) -> None:
    if args.json:
        summary.write_json(sys.stdout, int(code), args.failed_out)
    else:
        summary.write_text(sys.stdout, args.failed_out)
    # Problems once, on stderr (the summary on stdout carries them for --json).
    if summary.input_error:
        done = "validated" if summary.dry_run else "sent"
        print(f"token-blacklist revoke: stopped at unusable input: {summary.input_error}; "
              f"every line before it was {done}", file=sys.stderr)  # fmt: skip
    if summary.interrupted:
        print(f"token-blacklist revoke: {_stop_message(args, summary)}", file=sys.stderr)
    if code == ExitCode.UNAVAILABLE:
        print("token-blacklist revoke: Redis refused every write of this user "
              "(see `token-blacklist doctor`)", file=sys.stderr)  # fmt: skip


def _blacklist(
    args: argparse.Namespace, stack: contextlib.ExitStack, client: Any, registry: CollectorRegistry
) -> TokenBlacklist:
    """The client for this run: library logs as --log-format says, spans to OTLP only
    when configured, metrics in a registry of its own (pushed with --pushgateway)."""
    provider = tracer_provider("token-blacklist", None)
    if provider is not None:
        stack.callback(provider.shutdown)
    return TokenBlacklist(
        client,
        args.prefix,
        registry=registry,
        tracer_provider=provider,
        logger=command_logger(sys.stderr, args.log_format, args.log_level),
    )


def _open_files(
    args: argparse.Namespace, stack: contextlib.ExitStack
) -> tuple[IO[bytes], IO[str] | None] | int:
    try:
        source = stack.enter_context(open_input(args.input, sys.stdin.buffer))
    except OSError as error:
        print(f"token-blacklist revoke: {error.strerror}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if not args.failed_out:
        return source, None
    try:
        failed_out = stack.enter_context(open(args.failed_out, "w", encoding="utf-8"))  # noqa: SIM115
    except OSError as error:
        print(f"token-blacklist revoke: cannot write --failed-out {args.failed_out} "
              f"({error.strerror})", file=sys.stderr)  # fmt: skip
        return ExitCode.USAGE
    return source, failed_out


def run(args: argparse.Namespace) -> int:
    problem = _check_options(args)
    if problem:
        print(f"token-blacklist revoke: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    with contextlib.ExitStack() as stack:
        files = _open_files(args, stack)
        if isinstance(files, int):
            return files
        source, failed_out = files
        registry = CollectorRegistry()
        blacklist = None
        if not args.dry_run:
            session: RedisSession | int = open_session(args, "revoke")
            if isinstance(session, int):
                return session
            stack.callback(session.close)
            blacklist = _blacklist(args, stack, session.client, registry)
        if args.input == "-" and sys.stdin.isatty():
            print("token-blacklist revoke: reading token hashes from the terminal, one a "
                  "line; end with Ctrl-D (or give a FILE)", file=sys.stderr)  # fmt: skip
        reader = CountingReader(source)
        blocks = read_blocks(
            reader.blocks(args.batch_size),
            hasher=raw_token_hasher(_hmac_key(args)) if args.hash else None,
            default_ttl=args.ttl,
            first_line=args.resume_from,
        )
        revoker = Revoker(args, blacklist, failed_out, make_progress(args.progress, sys.stderr))
        with StopSignals() as signals:
            try:
                revoker.run(reader, blocks, signals)
            finally:
                revoker.progress.close()
            signals.finished()  # a signal now must not cut the summary short
            code = _exit_code(revoker.summary)
            _report(args, revoker.summary, code)
            if blacklist is not None:
                push_metrics(args, registry, revoker.summary, int(code))
        return code
