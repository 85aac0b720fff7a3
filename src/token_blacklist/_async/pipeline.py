"""The transport protocol, and the redis-py pipeline transport (``fast_path=False``,
``revoke_all``, and the base of the Sentinel transport).

A transport only moves commands: ``round_trip(batch)`` sends a :class:`.commands.Batch`
built by the core and returns one reply per command (``True``/an int, or the exception
instance of a failed command) or a single exception when the round trip itself was lost.
It never decides what a reply means; :mod:`token_blacklist._core.protocol` does.
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio

from .._core.classify import REDIS_FAILURES
from .._core.commands import Batch, ExistsTokens
from .._core.protocol import Reply

__all__ = ["AsyncPipelineTransport", "AsyncTransport"]


class AsyncTransport(Protocol):
    async def round_trip(self, commands: Batch) -> Reply:
        """Send ``commands`` non-transactionally in one round trip; read every reply."""


class AsyncPipelineTransport:
    """A redis-py pipeline with ``raise_on_error=False``: one round trip per batch."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client

    async def round_trip(self, commands: Batch) -> Reply:
        try:
            if isinstance(commands, ExistsTokens) and len(commands) == 1:
                # The logout/auth hot path: no pipeline machinery for a single EXISTS.
                return [await self._client.execute_command(*commands.args()[0])]  # type: ignore[no-untyped-call]
            pipe = self._client.pipeline(transaction=False)
            for command in commands.args():
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error
