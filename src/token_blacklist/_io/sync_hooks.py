"""The blocking side of the hooks (see :mod:`token_blacklist._io`)."""

from __future__ import annotations

import time
from typing import Any

try:  # redis-py internals, used only to drain hiredis directly; any parser works without them
    from redis._parsers.hiredis import _HiredisParser as _HIREDIS
except ImportError:  # pragma: no cover - depends on the redis-py version
    _HIREDIS = None  # type: ignore[assignment,misc]

__all__ = ["HIREDIS_PARSER", "clock", "disconnect_now", "fill", "hiredis_ready", "sleep"]

HIREDIS_PARSER: Any = _HIREDIS
sleep = time.sleep
clock = time.monotonic
"""The clock redis-py's health checks use."""


def disconnect_now(conn: Any) -> None:
    """Drop the connection at once (replies may be left unread on it)."""
    conn.disconnect()


def hiredis_ready(parser: Any) -> bool:
    """Whether the connection's parser is redis-py's hiredis one, connected."""
    return type(parser) is _HIREDIS and parser._reader is not None


def fill(conn: Any, parser: Any) -> None:
    """One socket read (the socket itself is bounded by ``socket_timeout``)."""
    parser.read_from_socket()
