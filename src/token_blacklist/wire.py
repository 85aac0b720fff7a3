"""RESP on redis-py's own connections: the fast path for ``SET key 1 EX ttl`` and
``EXISTS key`` chunks.

A redis-py pipeline spends most of its time in Python per command (queueing, packing each
argument, response callbacks). Here a chunk is packed into one buffer by string
formatting, written with ``send_packed_command`` and every reply is read back in order.

What stays redis-py's: the connection and its pool (auth, TLS, RESP3, timeouts, health
checks, client name... behave as the user configured them), the reply parser (error
replies become the same exception classes, e.g. ``OutOfMemoryError``), and the client's
``Retry`` around a lost round trip, exactly as a pipeline's ``execute()`` uses it. Any
failure while a chunk is in flight disconnects the connection before it goes back to the
pool, so a half-read reply stream can never be handed to the next user.

Like the pipeline transport, this module only moves bytes: it returns one reply per
command (``True``, or the exception instance of an error reply) or the exception that lost
the round trip; :mod:`.protocol` decides what they mean.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .protocol import Reply
from .round_trips import RoundTripSpans
from .subjects import NOT_BEFORE_MEMBER
from .transport import REDIS_FAILURES, AsyncPipelineTransport, PipelineTransport

try:  # redis-py internals, used only to drain hiredis directly; any parser works without them
    from redis._parsers import hiredis as _parsers
except ImportError:  # pragma: no cover - depends on the redis-py version
    _parsers = None  # type: ignore[assignment]
NOT_ENOUGH_DATA: Any = getattr(_parsers, "NOT_ENOUGH_DATA", object())
_SYNC_HIREDIS: Any = getattr(_parsers, "_HiredisParser", None)
_ASYNC_HIREDIS: Any = getattr(_parsers, "_AsyncHiredisParser", None)

__all__ = [
    "AsyncWireTransport",
    "WireTransport",
    "pack_command",
    "pack_exists",
    "pack_exists_and_not_before",
    "pack_sets",
]

_OK = (b"OK", "OK")


def pack_sets(keys: Sequence[str], ttls: Sequence[int]) -> bytes:
    """``SET key 1 EX ttl`` for each key as one RESP buffer (keys encoded as UTF-8)."""
    if not keys:
        return b""
    first = ttls[0]
    if ttls.count(first) == len(ttls):  # the common case: one TTL for the whole chunk
        tail = f"\r\n$1\r\n1\r\n$2\r\nEX\r\n${len(str(first))}\r\n{first}\r\n"
        text = "".join([f"*5\r\n$3\r\nSET\r\n${len(k)}\r\n{k}{tail}" for k in keys])
    else:
        text = "".join(
            [
                f"*5\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$1\r\n1\r\n$2\r\nEX\r\n${len(t)}\r\n{t}\r\n"
                for k, t in zip(keys, map(str, ttls), strict=True)
            ]
        )
    data = text.encode()
    if len(data) == len(text):
        return data
    # A non-ASCII key: RESP lengths count bytes, not characters. Never seen with validated
    # hashes and prefixes, but the transport does not rely on its callers for framing.
    return b"".join(
        b"*5\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$1\r\n1\r\n$2\r\nEX\r\n$%d\r\n%d\r\n"
        % (len(raw), raw, len(str(ttl)), ttl)
        for raw, ttl in ((k.encode(), t) for k, t in zip(keys, ttls, strict=True))
    )


def pack_exists(keys: Sequence[str]) -> bytes:
    """``EXISTS key`` for each key (one key per command: one reply per hash)."""
    text = "".join([f"*2\r\n$6\r\nEXISTS\r\n${len(k)}\r\n{k}\r\n" for k in keys])
    data = text.encode()
    if len(data) == len(text):
        return data
    return b"".join(
        b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n%b\r\n" % (len(raw), raw) for raw in map(str.encode, keys)
    )


def pack_command(*args: str) -> bytes:
    """One command of any arguments (UTF-8), for the rare shapes of the fast path."""
    raws = [arg.encode() for arg in args]
    return b"*%d\r\n" % len(raws) + b"".join(b"$%d\r\n%b\r\n" % (len(r), r) for r in raws)


def pack_exists_and_not_before(token_key: str, subject_key: str) -> bytes:
    """``EXISTS token_key`` and ``ZSCORE subject_key nbf``: a check that honours
    ``revoke_all`` (the authentication hot path of the FastAPI integration)."""
    return pack_command("EXISTS", token_key) + pack_command(
        "ZSCORE", subject_key, NOT_BEFORE_MEMBER
    )


def _settle(reply: object) -> object:
    """An error reply that redis-py treats as connection-level is raised (as it would be
    from a pipeline); ``OK`` becomes ``True``; everything else is passed on as it is."""
    if isinstance(reply, RedisConnectionError):  # LOADING, NOAUTH, max clients...
        raise reply
    return True if reply in _OK else reply


def _read_each(conn: Any, count: int) -> list[object]:
    """Any parser, any connection class (client-side caching proxies included)."""
    replies: list[object] = []
    for _ in range(count):
        try:
            replies.append(_settle(conn.read_response()))
        except ResponseError as error:  # redis-py raises error replies; they are answers
            replies.append(error)
    return replies


def _read_hiredis(conn: Any, parser: Any, count: int) -> list[object]:
    """Drain ``count`` replies straight from the hiredis reader: one ``gets()`` per reply
    and one ``recv`` per socket buffer, instead of a stack of Python calls per reply."""
    reader: Any = parser._reader
    push_type = parser._hiredis_PushNotificationType
    replies: list[object] = []
    append = replies.append
    try:
        while len(replies) < count:
            reply = reader.gets()
            if reply is NOT_ENOUGH_DATA:
                parser.read_from_socket()
            elif reply is True or reply in _OK:
                append(True)
            elif push_type is not None and isinstance(reply, push_type):
                parser.handle_push_response(reply)  # RESP3 pushes are not replies
            else:
                append(_settle(reply))
    except TimeoutError:  # socket.timeout is the builtin TimeoutError
        conn.disconnect()
        raise RedisTimeoutError("Timeout reading from socket") from None
    except OSError as error:
        conn.disconnect()
        raise RedisConnectionError(f"Error while reading from socket: {error.errno}") from None
    except BaseException:
        conn.disconnect()  # replies are left unread: the stream must not be reused
        raise
    if conn.health_check_interval:
        conn.next_health_check = time.monotonic() + conn.health_check_interval
    return replies


def _round_trip(conn: Any, payload: bytes, count: int) -> list[object]:
    conn.send_packed_command([payload])
    parser: Any = getattr(conn, "_parser", None)
    if type(parser) is _SYNC_HIREDIS and parser._reader is not None:
        return _read_hiredis(conn, parser, count)
    return _read_each(conn, count)


class WireTransport:
    """``SET`` and ``EXISTS`` chunks (and the ``EXISTS`` + ``ZSCORE`` of a subject-aware
    check) packed by hand on a pooled connection of a :class:`redis.Redis`; ``revoke_all``
    goes through :class:`PipelineTransport`."""

    def __init__(self, client: redis.Redis, spans: RoundTripSpans | None = None) -> None:
        self._client = client
        self._pipeline = PipelineTransport(client)
        self._spans = spans

    def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        return self._traced("SET", pack_sets(keys, ttls), len(keys)) if keys else []

    def send_exists(self, keys: Sequence[str]) -> Reply:
        return self._traced("EXISTS", pack_exists(keys), len(keys)) if keys else []

    def _traced(self, command: str | None, payload: bytes, count: int) -> Reply:
        span = self._spans.start(command, count) if self._spans is not None else None
        if span is None:
            return self._send(payload, count)
        try:
            reply = self._send(payload, count)
        except BaseException as error:
            RoundTripSpans.crashed(span, error)
            raise
        RoundTripSpans.end(span, reply)
        return reply

    def _send(self, payload: bytes, count: int) -> Reply:
        """One round trip on a pooled connection, re-sent by the client's ``Retry``."""
        pool: Any = self._client.connection_pool
        try:
            conn = pool.get_connection()
        except REDIS_FAILURES as error:
            return error
        try:
            replies: list[object] = conn.retry.call_with_retry(
                lambda: _round_trip(conn, payload, count),
                lambda _error: conn.disconnect(),
            )
            return replies
        except REDIS_FAILURES as error:
            conn.disconnect()
            return error
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)

    def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        return self._pipeline.send_not_before(key, not_before, expire_seconds)

    def send_exists_and_not_before(self, token_key: str, subject_key: str) -> Reply:
        return self._traced(None, pack_exists_and_not_before(token_key, subject_key), 2)


async def _read_each_async(conn: Any, count: int) -> list[object]:
    replies: list[object] = []
    for _ in range(count):
        try:
            replies.append(_settle(await conn.read_response()))
        except ResponseError as error:
            replies.append(error)
    return replies


async def _fill(conn: Any, parser: Any) -> None:
    """One socket read, bounded by ``socket_timeout`` as redis-py bounds each reply."""
    if conn.socket_timeout:
        async with asyncio.timeout(conn.socket_timeout):
            await parser.read_from_socket()
    else:
        await parser.read_from_socket()


async def _read_hiredis_async(conn: Any, parser: Any, count: int) -> list[object]:
    reader: Any = parser._reader
    push_type = parser._hiredis_PushNotificationType
    replies: list[object] = []
    append = replies.append
    try:
        while len(replies) < count:
            reply = reader.gets()
            if reply is NOT_ENOUGH_DATA:
                await _fill(conn, parser)
            elif reply is True or reply in _OK:
                append(True)
            elif push_type is not None and isinstance(reply, push_type):
                await parser.handle_push_response(reply)
            else:
                append(_settle(reply))
    except TimeoutError:  # asyncio.timeout's TimeoutError is the builtin one in 3.11
        await conn.disconnect(nowait=True)
        raise RedisTimeoutError("Timeout reading from socket") from None
    except OSError as error:
        await conn.disconnect(nowait=True)
        raise RedisConnectionError(f"Error while reading from socket: {error.errno}") from None
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    if conn.health_check_interval:  # as redis-py's own read_response does after a reply
        conn.next_health_check = asyncio.get_running_loop().time() + conn.health_check_interval
    return replies


async def _round_trip_async(conn: Any, payload: bytes, count: int) -> list[object]:
    await conn.send_packed_command([payload])
    parser: Any = getattr(conn, "_parser", None)
    if type(parser) is _ASYNC_HIREDIS and parser._reader is not None and parser._connected:
        return await _read_hiredis_async(conn, parser, count)
    return await _read_each_async(conn, count)


class AsyncWireTransport:
    """The asyncio twin of :class:`WireTransport`."""

    def __init__(self, client: redis.asyncio.Redis, spans: RoundTripSpans | None = None) -> None:
        self._client = client
        self._pipeline = AsyncPipelineTransport(client)
        self._spans = spans

    async def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        return await self._traced("SET", pack_sets(keys, ttls), len(keys)) if keys else []

    async def send_exists(self, keys: Sequence[str]) -> Reply:
        return await self._traced("EXISTS", pack_exists(keys), len(keys)) if keys else []

    async def _traced(self, command: str | None, payload: bytes, count: int) -> Reply:
        span = self._spans.start(command, count) if self._spans is not None else None
        if span is None:
            return await self._send(payload, count)
        try:
            reply = await self._send(payload, count)
        except BaseException as error:
            RoundTripSpans.crashed(span, error)
            raise
        RoundTripSpans.end(span, reply)
        return reply

    async def _send(self, payload: bytes, count: int) -> Reply:
        pool: Any = self._client.connection_pool
        try:
            conn = await pool.get_connection()
        except REDIS_FAILURES as error:
            return error
        try:
            replies: list[object] = await conn.retry.call_with_retry(
                lambda: _round_trip_async(conn, payload, count),
                lambda _error: conn.disconnect(),
            )
            return replies
        except REDIS_FAILURES as error:
            await conn.disconnect(nowait=True)
            return error
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        finally:
            await pool.release(conn)

    async def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        return await self._pipeline.send_not_before(key, not_before, expire_seconds)

    async def send_exists_and_not_before(self, token_key: str, subject_key: str) -> Reply:
        return await self._traced(None, pack_exists_and_not_before(token_key, subject_key), 2)
