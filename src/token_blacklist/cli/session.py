"""Connect once per command, and turn "Redis is not usable" into exit code 5 with a
message that names the cause (see :mod:`.causes`), never a Redis error text (it may hold
keys)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import redis

from .causes import unusable_message
from .connection import (
    CREDENTIALS_WARNING,
    ConnectionSettingsError,
    connect,
    describe_url,
    password_on_command_line,
)
from .exit_codes import ExitCode

__all__ = ["UNUSABLE_ERRORS", "RedisSession", "open_session"]

UNUSABLE_ERRORS = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)
"""What connecting can raise: ``RedisClusterException`` (a seed that is down, or not in
cluster mode) is not a ``RedisError``."""


@dataclass
class RedisSession:
    client: Any
    where: str
    """The URL without credentials."""

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()


def _unusable(command: str, where: str, error: BaseException) -> int:
    print(unusable_message(command, where, error), file=sys.stderr)
    return ExitCode.UNAVAILABLE


def open_session(
    args: argparse.Namespace, command: str, *, ping: bool = True
) -> RedisSession | int:
    """A connected client, or the exit code after printing why there is none.

    With ``ping=False`` a standalone client is returned unconnected (a cluster client has
    read its slot map already); the caller then meets the errors itself.
    """
    where = describe_url(args.redis_url or "")
    if password_on_command_line(args):
        print(f"token-blacklist {command}: {CREDENTIALS_WARNING}", file=sys.stderr)
    try:
        client = connect(args)
    except ConnectionSettingsError as error:
        print(f"token-blacklist {command}: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except UNUSABLE_ERRORS as error:
        return _unusable(command, where, error)
    session = RedisSession(client, where)
    if ping:
        try:
            client.ping()
        except redis.exceptions.NoPermissionError:
            pass  # PING denied by an ACL says nothing about SET/EXISTS: carry on
        except UNUSABLE_ERRORS as error:
            session.close()
            return _unusable(command, where, error)
    return session
