"""Sentinel: a write counts only once a replica has it too, so a failover cannot lose it.

Replication is asynchronous. After ``SENTINEL FAILOVER`` the old primary goes on accepting
writes on the connections clients already hold until Sentinel demotes it (about 8 s
later), and every one of those acknowledged writes is then discarded. Measured here: a
batch of 40,000 ``SET`` s during a failover was acknowledged in full and 11,480 of the keys
were gone afterwards. So on a Sentinel-managed client each chunk ends with
``WAIT <replicas> <timeout>``, ``<replicas>`` being every healthy replica Sentinel knows
(whichever it promotes must have the write; with one replica short, the deposed primary
could still count the other). When fewer confirm in time, the chunk's acknowledged writes
are reported ``unavailable`` (retriable), never ``succeeded``, and idle connections are
dropped so the re-send asks Sentinel for the primary again.

The price, stated in the README: while a replica is down but not yet marked down by
Sentinel, writes are applied on the primary but reported failed, and each chunk costs up to
the ``WAIT`` timeout. Once Sentinel lists no healthy replica at all, there is nothing a
failover could promote: chunks are sent without ``WAIT`` and count on the primary alone.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio

from .._core.classify import REDIS_FAILURES
from .._core.commands import Batch
from .._core.protocol import Reply
from .._core.replication import ReplicaCount, confirm, with_wait
from .._observability.nodes import note_nodes
from .pipeline import AsyncPipelineTransport, pipelined

__all__ = ["AsyncSentinelTransport"]


def _note_primary(client: Any, failed: bool) -> None:
    """Name the primary a write went to (the last one Sentinel named: no extra round trip)
    in the call's node fields, failed when the write was lost or not confirmed, so a
    failover shows as two primaries, the old one failed."""
    address = getattr(client.connection_pool, "master_address", None)
    if isinstance(address, tuple) and len(address) == 2:  # (host, port)
        primary = f"{address[0]}:{address[1]}"
        note_nodes([primary], [primary] if failed else [])


async def _drop_sentinel_connections(client: Any) -> None:
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.connection_pool.disconnect()


class AsyncSentinelTransport(AsyncPipelineTransport):
    """Pipelines on the Sentinel-managed pool; writes end with ``WAIT``."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        super().__init__(client)
        self._sentinel_client = client
        self._replicas = ReplicaCount()

    async def _required(self) -> int:
        if self._replicas.due():
            pool: Any = self._sentinel_client.connection_pool
            try:
                found = await pool.sentinel_manager.discover_slaves(pool.service_name)
                self._replicas.update(found)
            except REDIS_FAILURES:
                self._replicas.update(None)
        return self._replicas.value

    async def round_trip(self, commands: Batch) -> Reply:
        try:
            return await self._round_trip(commands)
        except BaseException:
            # Interrupted (a signal's exception, a cancellation): it may have landed while
            # redis-py asked a Sentinel (for the primary, or the replicas) between a send
            # and its read. Those connections are redis-py's, and pooled: drop them too,
            # or the next question would read this one's answer.
            await _drop_sentinel_connections(self._sentinel_client)
            raise

    async def _round_trip(self, commands: Batch) -> Reply:
        if not commands.writes:
            return await super().round_trip(commands)
        replicas = await self._required()
        try:
            replies = await pipelined(self._sentinel_client, with_wait(commands.args(), replicas))
        except REDIS_FAILURES as error:
            _note_primary(self._sentinel_client, failed=True)
            return error
        writes, confirmed = confirm(replies, replicas)
        _note_primary(self._sentinel_client, failed=not confirmed)
        if not confirmed:  # maybe a deposed primary: the next connection asks Sentinel
            self._replicas.expire()
            await self._sentinel_client.connection_pool.disconnect(inuse_connections=False)
        return writes
