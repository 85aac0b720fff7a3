"""Why Redis is not usable, in words an operator can act on, and safe to print.

redis-py's messages name the cause but may also hold a command and its key, so they are
never printed as they are. The text is built from parts that cannot hold a key or a
password: the operating system's ``strerror`` of the socket error underneath (``Connection
refused``, ``Name or service not known``), OpenSSL's verification message, and fixed
sentences chosen by exception class, with a hint when the URL's scheme is the likely cause.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import redis.exceptions as rex

from .._core.classify import classify_error

__all__ = ["describe_cause", "unusable_message"]


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _os_cause(error: OSError, scheme: str) -> str | None:  # noqa: PLR0911 - one a cause
    if isinstance(error, ssl.SSLCertVerificationError):
        # OpenSSL's own words: "certificate verify failed: self-signed certificate in ..."
        detail = f": {error.verify_message}" if error.verify_message else ""
        return (
            f"TLS: certificate verify failed{detail} "
            "(--tls-ca-file names the CA that signed the server's certificate)"
        )
    if isinstance(error, ssl.SSLError):
        hint = (
            " (a rediss:// URL for a port without TLS?)"
            if error.reason
            in (
                "WRONG_VERSION_NUMBER",
                "RECORD_LAYER_FAILURE",
                "PACKET_LENGTH_TOO_LONG",
            )
            else ""
        )
        return f"TLS handshake failed ({error.reason or 'SSLError'}){hint}"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})" if error.strerror else "unknown host"
    if isinstance(error, TimeoutError):
        hint = " (a rediss:// URL for a port without TLS?)" if scheme == "rediss" else ""
        return f"timed out{hint}"
    if isinstance(error, ConnectionResetError | BrokenPipeError) and scheme == "redis":
        return f"{error.strerror} (a redis:// URL for a TLS port? use rediss://)"
    if error.strerror:
        return error.strerror
    return None


_AUTH_REQUIRED = "a password is required: set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user)"
_WRONG_CREDENTIALS = "wrong user name or password, or the user is disabled"
_NOT_A_CLUSTER = "not a cluster node (cluster mode is disabled there): drop --cluster"


def _first_arg(error: BaseException) -> str:
    return str(error.args[0]) if error.args else ""


def _answer_cause(error: BaseException) -> str | None:  # noqa: PLR0911 - one a cause
    """What the server answered, by class (a message is only compared, never copied)."""
    message = _first_arg(error)
    if isinstance(error, rex.AuthenticationWrongNumberOfArgsError):
        return "this server has no ACL users: drop the user name (REDIS_USERNAME or the URL's)"
    if isinstance(error, rex.AuthenticationError | rex.AuthorizationError):
        return _AUTH_REQUIRED if "required" in message.lower() else _WRONG_CREDENTIALS
    if isinstance(error, rex.ResponseError) and message.startswith("NOAUTH"):
        return _AUTH_REQUIRED
    if isinstance(error, rex.RedisClusterException) and "not enabled" in message:
        return _NOT_A_CLUSTER
    if isinstance(error, rex.ResponseError) and "cluster support disabled" in message:
        return _NOT_A_CLUSTER
    if isinstance(error, rex.BusyLoadingError):
        return "the server is loading its dataset; try again when it is done"
    return None


def _link_cause(error: BaseException, scheme: str) -> str | None:
    """redis-py's connection errors that have no operating-system error underneath."""
    if isinstance(error, rex.ConnectionError) and "closed by server" in _first_arg(error):
        hint = " (a redis:// URL for a TLS port? use rediss://)" if scheme == "redis" else ""
        return f"the server closed the connection{hint}"
    if isinstance(error, rex.TimeoutError):
        hint = " (a rediss:// URL for a port without TLS?)" if scheme == "rediss" else ""
        return f"timed out (--connect-timeout, --socket-timeout){hint}"
    return None


def describe_cause(error: BaseException, scheme: str = "redis") -> str:
    """The most specific safe description found along the exception chain."""
    chain = list(_chain(error))
    # What the server answered (a wrong password, a node without cluster mode) first; then
    # the deepest operating-system error ("Connection refused"); then redis-py's own.
    for current in chain:
        if (found := _answer_cause(current)) is not None:
            return found
    for current in chain:
        if not isinstance(current, OSError) or isinstance(current, rex.RedisError):
            continue
        if (found := _os_cause(current, scheme)) is not None:
            return found
    for current in chain:
        if (found := _link_cause(current, scheme)) is not None:
            return found
    return type(error).__name__


def unusable_message(command: str, where: str, error: BaseException) -> str:
    """``token-blacklist CMD: Redis at WHERE is not usable (REASON: CAUSE)``."""
    scheme = where.split(":", 1)[0]
    reason = classify_error(error).value
    if isinstance(error, rex.RedisClusterException) and reason == "other":
        reason = "cluster"
    return (
        f"token-blacklist {command}: Redis at {where} is not usable "
        f"({reason}: {describe_cause(error, scheme)})"
    )
