"""The asyncio side of the hooks (see :mod:`token_blacklist._io`)."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._compat import ASYNC_HIREDIS_PARSER as _HIREDIS
from .._compat import pool_args
from . import pools

__all__ = [
    "HIREDIS_PARSER",
    "checkin",
    "checkout",
    "clock",
    "disconnect_now",
    "fill",
    "get_connection",
    "hiredis_ready",
    "lean_pool",
    "send",
    "sleep",
]

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


async def send(conn: Any, payload: bytes) -> None:
    """``conn.send_packed_command([payload])``, minus the task ``asyncio.wait_for`` makes
    for every write (a third of a round trip's loop work): the same ``socket_timeout``
    bound on the drain through ``asyncio.timeout``, the same errors, the connection
    dropped on any failure. A connection that must connect or run its health check first
    takes redis-py's own method."""
    writer = getattr(conn, "_writer", None)
    if writer is None or not conn.is_connected or conn.health_check_interval:
        await conn.send_packed_command([payload])
        return
    try:
        writer.write(payload)
        if conn.socket_timeout:
            async with asyncio.timeout(conn.socket_timeout):
                await writer.drain()
        else:
            await writer.drain()
    except TimeoutError:
        await conn.disconnect(nowait=True)
        raise RedisTimeoutError("Timeout writing to socket") from None
    except OSError as error:
        await conn.disconnect(nowait=True)
        raise RedisConnectionError(f"Error {error.errno} while writing to socket.") from error
    except BaseException:
        await conn.disconnect(nowait=True)  # part of the buffer may be sent: never reuse it
        raise


async def fill(conn: Any, parser: Any) -> None:
    """One socket read, bounded by ``socket_timeout`` as redis-py bounds each reply."""
    if conn.socket_timeout:
        async with asyncio.timeout(conn.socket_timeout):
            await parser.read_from_socket()
    else:
        await parser.read_from_socket()


def lean_pool(pool: Any) -> bool:
    """Whether :func:`checkout` may skip the pool's public methods (see ``_io.pools``)."""
    return pools.lean_pool(pool, redis.asyncio.ConnectionPool)


async def checkout(pool: Any, lean: bool) -> tuple[Any, bool]:
    """A connected connection of ``pool`` with nothing left to read, and whether it came
    the lean way (then :func:`checkin` must give it back the same way). No ``await``
    between looking at the pool and changing it: no other task can come in between."""
    if not lean or pool._lock.locked() or pools.redis_observed():
        return await get_connection(pool), False
    if not pool._available_connections:
        return await get_connection(pool), False
    conn = pool._available_connections.pop()
    pool._in_use_connections.add(conn)
    try:
        clean = conn.is_connected and not await conn.can_read()
    except (RedisConnectionError, RedisTimeoutError, OSError):
        clean = False
    except BaseException:
        await checkin(pool, conn, True)
        raise
    if clean:
        return conn, True
    # Unread data on an idle connection: a reply someone left (redis-py's own pool takes
    # it while maintenance notifications are on, its default). Never reuse the stream.
    await disconnect_now(conn)
    await checkin(pool, conn, True)  # the pool reconnects it, as it always does
    return await get_connection(pool), False


async def checkin(pool: Any, conn: Any, lean: bool) -> None:
    """Give ``conn`` back to ``pool`` (the way :func:`checkout` took it)."""
    if not lean or pool._lock.locked() or conn.should_reconnect():
        await pool.release(conn)  # the pool's lock, its disconnect, its counts
        return
    pool._in_use_connections.remove(conn)
    pool._available_connections.append(conn)


async def get_connection(pool: Any) -> Any:
    """A connection from ``pool``, called the way this redis-py's pool wants (``_compat``).

    An exception raised into redis-py's ``get_connection`` while it connects (a signal's
    exception, a cancellation, during the handshake: ``AUTH`` unsent, or sent and its
    reply unread) makes the pool take that connection back connected as it is, and the next
    user would send commands as whoever the socket is logged in as, or read the stray
    ``+OK``. redis-py disconnects only on its own errors, so on any other exception every
    idle connection is dropped (each reconnects on its next use)."""
    try:
        return await pool.get_connection(*pool_args(pool))
    except redis.exceptions.RedisError:
        raise
    except BaseException:
        await pool.disconnect(inuse_connections=False)
        raise
