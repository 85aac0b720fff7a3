"""The exit codes of every ``token-blacklist`` command: a contract for scripts."""

from __future__ import annotations

import enum

__all__ = ["EXIT_CODES_HELP", "ExitCode"]


class ExitCode(enum.IntEnum):
    """Distinct codes so a script can tell "retry these" from "fix your input"."""

    OK = 0
    """Everything was done as asked."""
    ERROR = 1
    """An unexpected error (a bug): please report it."""
    USAGE = 2
    """Wrong command-line options (argparse's own code)."""
    INCOMPLETE = 3
    """It ran, but not everything is as asked: revoke had failures, check found a hash
    that is not blacklisted, doctor found a critical problem."""
    BAD_INPUT = 4
    """The input is unusable (an invalid hash or TTL on some line); nothing after it was sent."""
    UNAVAILABLE = 5
    """Redis is unreachable or refuses this user; nothing was done."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (SIGINT) or SIGTERM before the end of the input."""


EXIT_CODES_HELP = """\
exit codes:
  0    everything done as asked
  3    incomplete: revoke had failures (see --failed-out), check found a hash that is
       not blacklisted, doctor found a critical problem
  4    unusable input (invalid hash or TTL; the line number is printed, never the value)
  5    Redis unreachable or refusing this user; nothing was done
  2    wrong options; 1 unexpected error (a bug); 130 interrupted (Ctrl-C)
"""
