"""The ``token-blacklist`` command: demo, revoke, check, doctor.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``run=`` to a function ``(argparse.Namespace) -> int`` (the exit code).
Adding a command is one line in :data:`SUBCOMMANDS` (the module's name).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from .. import __about__
from .exit_codes import EXIT_CODES_HELP, ExitCode

__all__ = ["build_parser", "main"]

SUBCOMMANDS: list[str] = [
    "demo",
    "revoke",
    "check",
    "doctor",
    "bench",
    "completion",
    # ↓ one line per further subcommand module of this package, e.g. "bench".
]
"""Modules of this package, each with ``register(subparsers)``; the help lists them in order."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; ``only``: register that subcommand alone (see :func:`main`)."""
    parser = argparse.ArgumentParser(
        prog="token-blacklist",
        description="Revoke authentication tokens in Redis and know exactly which failed.",
        epilog="examples:\n  token-blacklist demo\n"
        "  token-blacklist revoke --ttl 3600 hashes.txt\n"
        "  token-blacklist check 9f86d081884c7d65...\n"
        "  token-blacklist doctor --redis-url redis://cache:6379/0\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__about__.__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS if only is None else [only]:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` starts with, when it names one: only its module is imported
    (the others' imports, the demo's and the bench's, are a tenth of a second of every
    ``revoke`` an incident runs in a loop). Anything else (no subcommand, an option first,
    shell completion) gets the whole parser and its help."""
    if "_ARGCOMPLETE" in os.environ or not argv or argv[0] not in SUBCOMMANDS:
        return None
    return argv[0]


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (systemd, docker stop, CI timeouts) takes the same clean path as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns (and, as a script, exits with) the exit code."""
    parser = build_parser(_chosen(sys.argv[1:] if argv is None else argv))
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (argcomplete)
        from .completion import autocomplete

        autocomplete(parser)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print(f"token-blacklist {args.command}: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
