"""Connect once per command, and turn "Redis is not usable" into exit code 5 with a
message that names the class of the problem, never a Redis error text (it may hold keys)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import redis

from .._core.classify import classify_error
from .connection import ConnectionSettingsError, connect, describe_url
from .exit_codes import ExitCode

__all__ = ["RedisSession", "open_session"]


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
    reason = classify_error(error).value
    print(
        f"token-blacklist {command}: Redis at {where} is not usable ({reason}: "
        f"{type(error).__name__})",
        file=sys.stderr,
    )
    return ExitCode.UNAVAILABLE


def open_session(
    args: argparse.Namespace, command: str, *, ping: bool = True
) -> RedisSession | int:
    """A connected client, or the exit code after printing why there is none."""
    where = describe_url(args.redis_url or "")
    try:
        client = connect(args)
    except ConnectionSettingsError as error:
        print(f"token-blacklist {command}: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except (redis.RedisError, OSError) as error:
        return _unusable(command, where, error)
    session = RedisSession(client, where)
    if ping:
        try:
            client.ping()
        except redis.exceptions.NoPermissionError:
            pass  # PING denied by an ACL says nothing about SET/EXISTS: carry on
        except (redis.RedisError, OSError) as error:
            session.close()
            return _unusable(command, where, error)
    return session
