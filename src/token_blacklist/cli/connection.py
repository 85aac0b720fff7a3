"""Connection options shared by every command: what users of Redis tools expect.

``--redis-url`` (or ``REDIS_URL``), TLS with ``rediss://``, the user name and password from
the URL or from ``REDIS_USERNAME``/``REDIS_PASSWORD`` (never a password option: command
lines end up in shell histories and ``ps``), ``--cluster``, ``--prefix`` and timeouts.
"""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.cluster

from .._core.validation import validate_prefix

__all__ = [
    "CREDENTIALS_WARNING",
    "DEFAULT_PREFIX",
    "ConnectionSettingsError",
    "add_connection_options",
    "client_kwargs",
    "connect",
    "describe_url",
    "password_on_command_line",
]

DEFAULT_PREFIX = "token_blacklist"
DEFAULT_URL = "redis://127.0.0.1:6379/0"

CONNECTION_HELP = """\
connection:
  The URL comes from --redis-url or REDIS_URL; rediss:// enables TLS. A user name and
  password are taken from the URL or from REDIS_USERNAME / REDIS_PASSWORD (a password
  on the command line shows in ps and the shell history: prefer REDIS_PASSWORD).
"""

CREDENTIALS_WARNING = (
    "warning: the password in --redis-url is visible to other users (ps) and stays in the "
    "shell history; set REDIS_PASSWORD instead"
)


class ConnectionSettingsError(Exception):
    """The connection settings cannot work (bad URL, unreadable CA file)."""


def _prefix(value: str) -> str:
    try:
        return validate_prefix(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return seconds


def add_connection_options(parser: argparse.ArgumentParser, *, url_default: bool = True) -> None:
    """Add ``--redis-url``, ``--cluster``, ``--prefix``, TLS and timeout options."""
    group = parser.add_argument_group("Redis connection")
    group.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or (DEFAULT_URL if url_default else None),
        metavar="URL",
        help="redis:// or rediss:// (TLS) URL; default: $REDIS_URL"
        + (f" or {DEFAULT_URL}" if url_default else ""),
    )
    group.add_argument(
        "--cluster",
        action="store_true",
        help="the URL names one node of a Redis Cluster (redis.cluster.RedisCluster)",
    )
    group.add_argument(
        "--prefix",
        default=os.environ.get("TOKEN_BLACKLIST_PREFIX", DEFAULT_PREFIX),
        type=_prefix,
        help="key prefix: keys are PREFIX:HASH (default: $TOKEN_BLACKLIST_PREFIX or %(default)s)",
    )
    group.add_argument(
        "--tls-ca-file",
        metavar="PEM",
        default=os.environ.get("REDIS_TLS_CA_FILE"),
        help="CA bundle to verify a rediss:// server (default: $REDIS_TLS_CA_FILE or system CAs)",
    )
    group.add_argument(
        "--tls-cert-file",
        metavar="PEM",
        default=os.environ.get("REDIS_TLS_CERT_FILE"),
        help="client certificate for servers with tls-auth-clients (mutual TLS; "
        "default: $REDIS_TLS_CERT_FILE)",
    )
    group.add_argument(
        "--tls-key-file",
        metavar="PEM",
        default=os.environ.get("REDIS_TLS_KEY_FILE"),
        help="private key of --tls-cert-file (default: $REDIS_TLS_KEY_FILE)",
    )
    group.add_argument(
        "--socket-timeout",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="reply timeout per round trip (default: %(default)s)",
    )
    group.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="TCP/TLS connect timeout (default: %(default)s)",
    )


def _client_kwargs(args: argparse.Namespace, url: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "socket_timeout": args.socket_timeout,
        "socket_connect_timeout": args.connect_timeout,
    }
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConnectionSettingsError(
            "the Redis URL must start with redis://, rediss:// or unix://"
        )
    if not parts.username and os.environ.get("REDIS_USERNAME"):
        kwargs["username"] = os.environ["REDIS_USERNAME"]
    if not parts.password and os.environ.get("REDIS_PASSWORD"):
        kwargs["password"] = os.environ["REDIS_PASSWORD"]
    kwargs |= _tls_kwargs(args, parts.scheme)
    return kwargs


def _tls_kwargs(args: argparse.Namespace, scheme: str) -> dict[str, Any]:
    files = {
        "--tls-ca-file": ("ssl_ca_certs", getattr(args, "tls_ca_file", None)),
        "--tls-cert-file": ("ssl_certfile", getattr(args, "tls_cert_file", None)),
        "--tls-key-file": ("ssl_keyfile", getattr(args, "tls_key_file", None)),
    }
    kwargs: dict[str, Any] = {}
    for option, (keyword, path) in files.items():
        if not path:
            continue
        if scheme != "rediss":
            raise ConnectionSettingsError(f"{option} needs a rediss:// URL")
        if not os.access(path, os.R_OK):
            raise ConnectionSettingsError(f"cannot read {option} {path}")
        kwargs[keyword] = path
    if ("ssl_certfile" in kwargs) != ("ssl_keyfile" in kwargs):
        raise ConnectionSettingsError("--tls-cert-file and --tls-key-file go together")
    return kwargs


def password_on_command_line(args: argparse.Namespace) -> bool:
    """True when ``--redis-url`` was given with a password (not from ``REDIS_URL``)."""
    url = args.redis_url or ""
    if not url or url == os.environ.get("REDIS_URL"):
        return False
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def connect(args: argparse.Namespace, url: str | None = None) -> Any:
    """A ``redis.Redis`` (or ``RedisCluster`` with ``--cluster``) from the options.

    No connection is made yet for a standalone client; a cluster client reads the slot map
    at once, so an unreachable cluster raises a ``redis.RedisError`` here.
    """
    url = url or args.redis_url
    if not url:
        raise ConnectionSettingsError("no Redis URL: pass --redis-url or set REDIS_URL")
    kwargs = _client_kwargs(args, url)
    try:
        if args.cluster:
            # Uncovered slots fail per token (cluster_down), and doctor must still connect.
            return redis.cluster.RedisCluster.from_url(url, require_full_coverage=False, **kwargs)
        return redis.Redis.from_url(url, **kwargs)
    except ValueError as error:
        # redis-py's URL errors name the part that is wrong, not the password.
        raise ConnectionSettingsError(f"invalid Redis URL ({type(error).__name__})") from None


def describe_url(url: str) -> str:
    """``scheme://host:port/db`` without user name or password, safe to print."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def client_kwargs(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """The keyword arguments :func:`connect` gives redis-py for ``url`` (for a client of
    another flavour, like the bench's asyncio one). Raises :class:`ConnectionSettingsError`."""
    return _client_kwargs(args, url)
