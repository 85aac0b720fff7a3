"""The transport protocol, and the redis-py pipeline transport (``fast_path=False``,
``revoke_all``, and the base of the Sentinel transport).

A transport only moves commands: ``round_trip(batch)`` sends a :class:`.commands.Batch`
built by the core and returns one reply per command (``True``/an int, or the exception
instance of a failed command) or a single exception when the round trip itself was lost.
It never decides what a reply means; :mod:`token_blacklist._core.protocol` does.

No request is ever left in flight on a pooled connection. redis-py's pipeline hands its
connection back to the pool in a ``finally``, whatever interrupted it: an exception raised
into the call between sending and reading (a signal handler's timeout, Ctrl-C, a task's
cancellation) would leave the replies unread, and the next user of the connection would
read them as its own. So the connection is taken here (:func:`pipelined`, :func:`single`),
lent to the pipeline through :class:`_Lent`, whose ``release`` does nothing, and given back
here, disconnected first when anything at all was raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import redis.asyncio

from .._core.classify import REDIS_FAILURES
from .._core.commands import Batch, Command, ExistsTokens
from .._core.protocol import Reply
from .._io import async_hooks as hooks

__all__ = ["AsyncPipelineTransport", "AsyncTransport", "pipelined", "single"]


class AsyncTransport(Protocol):
    async def round_trip(self, commands: Batch) -> Reply:
        """Send ``commands`` non-transactionally in one round trip; read every reply."""


class _Lent:
    """The pool a pipeline sees: the real one for everything but ``release``, which the
    caller of :func:`pipelined` does itself, once it knows whether the connection is clean."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def release(self, connection: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


async def pipelined(client: Any, commands: Sequence[Command]) -> list[Any]:
    """``commands`` in one redis-py pipeline (``raise_on_error=False``) on a connection of
    ``client``'s pool, disconnected before it goes back when anything was raised."""
    pool = client.connection_pool
    conn = await hooks.get_connection(pool)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.connection_pool = _Lent(pool)
        pipe.connection = conn
        for command in commands:
            pipe.execute_command(*command)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies
    except BaseException:
        await hooks.disconnect_now(conn)  # replies may be left unread on it
        raise
    finally:
        await pool.release(conn)


async def single(client: Any, command: Command) -> Any:
    """One command on a connection of ``client``'s pool, re-sent by the connection's
    ``Retry`` as redis-py's ``execute_command`` does, disconnected before it goes back
    when anything was raised."""
    pool = client.connection_pool
    conn = await hooks.get_connection(pool)

    async def exchange() -> Any:
        await conn.send_command(*command)
        return await client.parse_response(conn, command[0])

    try:
        return await conn.retry.call_with_retry(exchange, lambda _error: conn.disconnect())
    except BaseException:
        await hooks.disconnect_now(conn)
        raise
    finally:
        await pool.release(conn)


class AsyncPipelineTransport:
    """A redis-py pipeline with ``raise_on_error=False``: one round trip per batch."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client

    async def round_trip(self, commands: Batch) -> Reply:
        try:
            if isinstance(commands, ExistsTokens) and len(commands) == 1:
                # The logout/auth hot path: no pipeline machinery for a single EXISTS.
                return [await single(self._client, commands.args()[0])]
            return await pipelined(self._client, commands.args())
        except REDIS_FAILURES as error:
            return error
