"""RESP on redis-py's own connections: the fast path for ``SET`` and ``EXISTS`` chunks.

A redis-py pipeline spends most of its time in Python per command (queueing, packing each
argument, response callbacks). Here a batch is packed into one buffer by the core
(:meth:`.commands.Batch.packed`), written with ``send_packed_command`` and every reply is
read back in order.

What stays redis-py's: the connection and its pool (auth, TLS, RESP3, timeouts, health
checks, client name... behave as the user configured them), the reply parser (error
replies become the same exception classes, e.g. ``OutOfMemoryError``), and the client's
``Retry`` around a lost round trip, exactly as a pipeline's ``execute()`` uses it. Any
failure while a batch is in flight disconnects the connection before it goes back to the
pool, so a half-read reply stream can never be handed to the next user.

Like the pipeline transport, this module only moves bytes: it returns one reply per
command (``True``, or the exception instance of an error reply) or the exception that lost
the round trip; the core decides what they mean.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._compat import NOT_ENOUGH_DATA, push_type
from .._core.classify import REDIS_FAILURES
from .._core.commands import Batch
from .._core.protocol import Reply
from .._io import async_hooks as hooks
from .._observability.round_trips import RoundTripSpans
from .pipeline import AsyncPipelineTransport

__all__ = ["AsyncWireTransport"]

_OK = (b"OK", "OK")


def _settle(reply: object) -> object:
    """An error reply that redis-py treats as connection-level is raised (as it would be
    from a pipeline); ``OK`` becomes ``True``; everything else is passed on as it is."""
    if isinstance(reply, RedisConnectionError):  # LOADING, NOAUTH, max clients...
        raise reply
    return True if reply in _OK else reply


async def _read_each(conn: Any, count: int) -> list[object]:
    """Any parser, any connection class (client-side caching proxies included)."""
    replies: list[object] = []
    for _ in range(count):
        try:
            replies.append(_settle(await conn.read_response()))
        except ResponseError as error:  # redis-py raises error replies; they are answers
            replies.append(error)
    return replies


async def _read_hiredis(conn: Any, parser: Any, count: int) -> list[object]:
    """Drain ``count`` replies straight from the hiredis reader: one ``gets()`` per reply
    and one socket read per buffer, instead of a stack of Python calls per reply."""
    reader: Any = parser._reader
    pushes = push_type(parser)
    replies: list[object] = []
    append = replies.append
    try:
        while len(replies) < count:
            reply = reader.gets()
            if reply is NOT_ENOUGH_DATA:
                await hooks.fill(conn, parser)
            elif type(reply) is int:  # EXISTS (never a push, never OK)
                append(reply)
            elif reply is True or reply in _OK:
                append(True)
            elif pushes is not None and isinstance(reply, pushes):
                await parser.handle_push_response(reply)  # RESP3 pushes are not replies
            else:
                append(_settle(reply))
    except TimeoutError:  # socket.timeout and asyncio.timeout's are the builtin one
        await hooks.disconnect_now(conn)
        raise RedisTimeoutError("Timeout reading from socket") from None
    except OSError as error:
        await hooks.disconnect_now(conn)
        raise RedisConnectionError(f"Error while reading from socket: {error.errno}") from None
    except BaseException:
        await hooks.disconnect_now(conn)  # replies are left unread: the stream must not be reused
        raise
    if conn.health_check_interval:  # as redis-py's own read_response does after a reply
        conn.next_health_check = hooks.clock() + conn.health_check_interval
    return replies


async def _exchange(conn: Any, payload: bytes, count: int) -> list[object]:
    await hooks.send(conn, payload)
    parser: Any = getattr(conn, "_parser", None)
    if hooks.hiredis_ready(parser):
        return await _read_hiredis(conn, parser, count)
    return await _read_each(conn, count)


class AsyncWireTransport:
    """Batches the core packs (``SET`` and ``EXISTS`` chunks, the ``EXISTS`` + ``ZSCORE`` of
    a subject-aware check) on a pooled connection of the client; the others (``revoke_all``)
    through :class:`.pipeline.AsyncPipelineTransport`."""

    def __init__(self, client: redis.asyncio.Redis, spans: RoundTripSpans | None = None) -> None:
        self._client = client
        self._pipeline = AsyncPipelineTransport(client)
        self._spans = spans
        self._lean = hooks.lean_pool(client.connection_pool)

    def may_trace(self) -> bool:
        """Whether a round trip made now may get a span of its own (then the call's span
        must be current while it runs, to be its parent)."""
        return self._spans is not None and self._spans.wanted()

    async def round_trip(self, commands: Batch) -> Reply:
        if not commands.fast:
            return await self._pipeline.round_trip(commands)
        count = len(commands)
        if not count:
            return []
        payload = commands.packed()
        span = self._spans.start(commands.name, count) if self._spans is not None else None
        if span is None:
            return await self.send_packed(payload, count)
        try:
            reply = await self.send_packed(payload, count)
        except BaseException as error:
            RoundTripSpans.crashed(span, error)
            raise
        RoundTripSpans.end(span, reply)
        return reply

    async def send_packed(self, payload: bytes, count: int) -> Reply:
        """One round trip of ``count`` packed commands on a pooled connection, re-sent by
        the client's ``Retry``, without a span (callers check :meth:`may_trace` first).

        The connection is taken from the pool once and given back once; any failure or
        interruption between sending and reading every reply disconnects it first."""
        pool: Any = self._client.connection_pool
        try:
            conn, lean = await hooks.checkout(pool, self._lean)
        except REDIS_FAILURES as error:
            return error
        try:
            replies: list[object] = await conn.retry.call_with_retry(
                lambda: _exchange(conn, payload, count),
                lambda _error: conn.disconnect(),
            )
            return replies
        except REDIS_FAILURES as error:
            await hooks.disconnect_now(conn)
            return error
        except BaseException:
            await hooks.disconnect_now(conn)
            raise
        finally:
            await hooks.checkin(pool, conn, lean)
