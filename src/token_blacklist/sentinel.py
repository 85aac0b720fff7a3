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

import time
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
import redis.exceptions as rex

from .call_nodes import note_nodes
from .protocol import Reply
from .transport import (
    REDIS_FAILURES,
    AsyncPipelineTransport,
    PipelineTransport,
    _not_before_commands,
)

__all__ = [
    "REPLICAS_REFRESH",
    "WAIT_TIMEOUT_MS",
    "AsyncSentinelTransport",
    "SentinelTransport",
    "confirm_replicated",
]

REPLICAS_REFRESH = 1.0
"""Seconds between two questions to Sentinel about the healthy replicas."""
WAIT_TIMEOUT_MS = 100
"""How long a chunk waits for that confirmation (a healthy replica answers in about 1 ms)."""

Command = tuple[Any, ...]


def not_replicated() -> rex.ResponseError:
    """The reply of a write the primary applied but no replica confirmed in time.

    Classified by its status word like Redis' own ``min-replicas-to-write`` refusal.
    """
    return rex.ResponseError("NOREPLICAS write not confirmed by a replica in time")


def confirm_replicated(replies: Sequence[object], replicas: int) -> tuple[list[object], bool]:
    """Split ``[*writes, WAIT reply]``: the writes' replies, and whether they count.

    Unconfirmed, every acknowledged write becomes :func:`not_replicated`; error replies
    stay as they were.
    """
    *writes, waited = replies
    if isinstance(waited, int) and not isinstance(waited, bool) and waited >= replicas:
        return writes, True
    return [r if isinstance(r, BaseException) else not_replicated() for r in writes], False


class ReplicaCount:
    """How many replicas must confirm a chunk: the healthy ones Sentinel reports, asked at
    most once a second and again after any unconfirmed chunk (a failover may be under way).
    Until Sentinel has answered once, one replica."""

    def __init__(self) -> None:
        self.value = 1
        self._asked = float("-inf")

    def due(self) -> bool:
        return time.monotonic() - self._asked >= REPLICAS_REFRESH

    def update(self, replicas: Sequence[object] | None) -> None:
        self._asked = time.monotonic()
        if replicas is not None:  # Sentinel unreachable: keep the last answer
            self.value = len(replicas)

    def expire(self) -> None:
        self._asked = float("-inf")


def _with_wait(commands: list[Command], replicas: int) -> list[Command]:
    if replicas == 0:  # nothing to confirm with, and nothing Sentinel could promote
        return commands
    return [*commands, ("WAIT", replicas, WAIT_TIMEOUT_MS)]


def _confirm(replies: Sequence[object], replicas: int) -> tuple[list[object], bool]:
    return confirm_replicated(replies, replicas) if replicas else (list(replies), True)


def _note_primary(client: Any, failed: bool) -> None:
    """Name the primary a write went to (the last one Sentinel named: no extra round trip)
    in the call's node fields, failed when the write was lost or not confirmed, so a
    failover shows as two primaries, the old one failed."""
    address = getattr(client.connection_pool, "master_address", None)
    if isinstance(address, tuple) and len(address) == 2:  # (host, port)
        primary = f"{address[0]}:{address[1]}"
        note_nodes([primary], [primary] if failed else [])


def _set_commands(keys: Sequence[str], ttls: Sequence[int]) -> list[Command]:
    return [("SET", key, b"1", "EX", ttl) for key, ttl in zip(keys, ttls, strict=True)]


class SentinelTransport(PipelineTransport):
    """Pipelines on the Sentinel-managed pool; writes end with ``WAIT``."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        self._sentinel_client = client
        self._replicas = ReplicaCount()

    def _required(self) -> int:
        if self._replicas.due():
            pool: Any = self._sentinel_client.connection_pool
            try:
                self._replicas.update(pool.sentinel_manager.discover_slaves(pool.service_name))
            except REDIS_FAILURES:
                self._replicas.update(None)
        return self._replicas.value

    def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        return self._write(_set_commands(keys, ttls))

    def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        return self._write(list(_not_before_commands(key, not_before, expire_seconds)))

    def _write(self, commands: list[Command]) -> Reply:
        replicas = self._required()
        pipe = self._sentinel_client.pipeline(transaction=False)
        for command in _with_wait(commands, replicas):
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        try:
            replies = pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            _note_primary(self._sentinel_client, failed=True)
            return error
        writes, confirmed = _confirm(replies, replicas)
        _note_primary(self._sentinel_client, failed=not confirmed)
        if not confirmed:  # maybe a deposed primary: the next connection asks Sentinel
            self._replicas.expire()
            self._sentinel_client.connection_pool.disconnect(inuse_connections=False)
        return writes


class AsyncSentinelTransport(AsyncPipelineTransport):
    """The asyncio twin of :class:`SentinelTransport`."""

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

    async def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        return await self._write(_set_commands(keys, ttls))

    async def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        return await self._write(list(_not_before_commands(key, not_before, expire_seconds)))

    async def _write(self, commands: list[Command]) -> Reply:
        replicas = await self._required()
        pipe = self._sentinel_client.pipeline(transaction=False)
        for command in _with_wait(commands, replicas):
            pipe.execute_command(*command)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            _note_primary(self._sentinel_client, failed=True)
            return error
        writes, confirmed = _confirm(replies, replicas)
        _note_primary(self._sentinel_client, failed=not confirmed)
        if not confirmed:
            self._replicas.expire()
            await self._sentinel_client.connection_pool.disconnect(inuse_connections=False)
        return writes
