"""The asyncio side of the hooks (see :mod:`token_blacklist._io`)."""

from __future__ import annotations

import asyncio
from typing import Any

try:  # redis-py internals, used only to drain hiredis directly; any parser works without them
    from redis._parsers.hiredis import _AsyncHiredisParser as _HIREDIS
except ImportError:  # pragma: no cover - depends on the redis-py version
    _HIREDIS = None  # type: ignore[assignment,misc]

__all__ = ["HIREDIS_PARSER", "clock", "disconnect_now", "fill", "hiredis_ready", "sleep"]

HIREDIS_PARSER: Any = _HIREDIS
sleep = asyncio.sleep


def clock() -> float:
    """The clock redis.asyncio's health checks use: the event loop's."""
    return asyncio.get_running_loop().time()


async def disconnect_now(conn: Any) -> None:
    """Drop the connection at once (replies may be left unread on it)."""
    await conn.disconnect(nowait=True)


def hiredis_ready(parser: Any) -> bool:
    """Whether the connection's parser is redis-py's hiredis one, connected."""
    return type(parser) is _HIREDIS and parser._reader is not None and parser._connected


async def fill(conn: Any, parser: Any) -> None:
    """One socket read, bounded by ``socket_timeout`` as redis-py bounds each reply."""
    if conn.socket_timeout:
        async with asyncio.timeout(conn.socket_timeout):
            await parser.read_from_socket()
    else:
        await parser.read_from_socket()
