"""The blocking side of the hooks (see :mod:`token_blacklist._io`)."""

from __future__ import annotations

import select
import socket
import time
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._compat import SYNC_HIREDIS_PARSER as _HIREDIS
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
sleep = time.sleep
clock = time.monotonic
"""The clock redis-py's health checks use."""


def disconnect_now(conn: Any) -> None:
    """Drop the connection at once (replies may be left unread on it)."""
    conn.disconnect()


def hiredis_ready(parser: Any) -> bool:
    """Whether the connection's parser is redis-py's hiredis one, connected."""
    return type(parser) is _HIREDIS and parser._reader is not None


def send(conn: Any, payload: bytes) -> None:
    """``conn.send_packed_command([payload])`` (bounded by ``socket_timeout``; the
    connection is dropped on any failure)."""
    conn.send_packed_command([payload])


def fill(conn: Any, parser: Any) -> None:
    """One socket read (the socket itself is bounded by ``socket_timeout``)."""
    parser.read_from_socket()


def lean_pool(pool: Any) -> bool:
    """Whether :func:`checkout` may skip the pool's public methods (see ``_io.pools``)."""
    return pools.lean_pool(pool, redis.ConnectionPool, "pid", "_checkpid", "owns_connection")


def checkout(pool: Any, lean: bool) -> tuple[Any, bool]:
    """A connected connection of ``pool`` with nothing left to read, and whether it came
    the lean way (then :func:`checkin` must give it back the same way)."""
    if not lean or pool.pid != pools.current_pid or pools.redis_observed():
        return get_connection(pool), False
    with pool._lock:
        try:
            conn = pool._available_connections.pop()
        except IndexError:
            conn = None
        else:
            pool._in_use_connections.add(conn)
    if conn is None:  # the pool makes (and counts) a new one
        return get_connection(pool), False
    try:
        clean = _idle_clean(conn)
    except (RedisConnectionError, RedisTimeoutError, OSError):
        clean = False
    except BaseException:
        checkin(pool, conn, True)
        raise
    if clean:
        return conn, True
    # Unread data on an idle connection: a reply someone left (redis-py's own pool takes
    # it while maintenance notifications are on, its default). Never reuse the stream.
    disconnect_now(conn)
    checkin(pool, conn, True)  # the pool reconnects it, as it always does
    return get_connection(pool), False


_POLL = getattr(select, "poll", None)


def _idle_clean(conn: Any) -> bool:
    """``conn._sock is not None and not conn.can_read()``: connected, nothing buffered and
    nothing (data, EOF, error) to read. For a plain socket under redis-py's hiredis parser,
    the same tests without redis-py's three frames (its ``can_read`` also formats the
    host name for an error message it rarely raises): the reader holds no data and
    ``poll(0)`` reports nothing; a readable socket is never clean, closed or not."""
    sock = conn._sock
    if sock is None:
        return False
    parser = conn._parser
    if _POLL is None or type(parser) is not _HIREDIS or type(sock) is not socket.socket:
        return not conn.can_read()  # TLS (bytes above the socket), other parsers...
    reader = parser._reader
    if reader is None or reader.has_data():
        return False
    poller = _POLL()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


def checkin(pool: Any, conn: Any, lean: bool) -> None:
    """Give ``conn`` back to ``pool`` (the way :func:`checkout` took it)."""
    if not lean:
        pool.release(conn)
        return
    if pool.pid != pools.current_pid:  # forked: the pool resets itself
        pool._checkpid()
    with pool._lock:
        try:
            pool._in_use_connections.remove(conn)
        except KeyError:  # the pool was reset (a fork): not its connection any more
            return
        if not pool.owns_connection(conn):
            pool._in_use_connections.add(conn)
        else:
            if conn.should_reconnect():
                conn.disconnect()
            pool._available_connections.append(conn)
            return
    pool.release(conn)


def get_connection(pool: Any) -> Any:
    """A connection from ``pool``, called the way this redis-py's pool wants (``_compat``).

    An exception raised into redis-py's ``get_connection`` while it connects (a signal's
    exception, a cancellation, during the handshake: ``AUTH`` unsent, or sent and its
    reply unread) makes the pool take that connection back connected as it is, and the next
    user would send commands as whoever the socket is logged in as, or read the stray
    ``+OK``. redis-py disconnects only on its own errors, so on any other exception every
    idle connection is dropped (each reconnects on its next use)."""
    try:
        return pool.get_connection(*pool_args(pool))
    except redis.exceptions.RedisError:
        raise
    except BaseException:
        pool.disconnect(inuse_connections=False)
        raise
