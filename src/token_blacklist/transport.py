"""Transports: how a shell moves one chunk of commands to Redis and back.

A transport only moves bytes: it returns one reply per command (``True``/an int, or the
exception instance of a failed command) or a single exception when the round trip itself
was lost. It never decides what a reply means; :mod:`.protocol` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from .protocol import Reply
from .round_trips import RoundTripSpans
from .subjects import NOT_BEFORE_MEMBER

__all__ = [
    "REDIS_FAILURES",
    "AsyncPipelineTransport",
    "AsyncTransport",
    "PipelineTransport",
    "SyncTransport",
    "async_transport_for",
    "sync_transport_for",
]

REDIS_FAILURES = (redis.RedisError, OSError)
"""What a lost round trip raises: redis-py errors, and socket errors it did not wrap."""


class SyncTransport(Protocol):
    def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        """``SET key 1 EX ttl`` for each key, non-transactionally, every reply read."""

    def send_exists(self, keys: Sequence[str]) -> Reply:
        """``EXISTS key`` for each key (one key per command)."""

    def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        """``ZADD key GT not_before nbf``, ``EXPIRE key s NX``, ``EXPIRE key s GT``: 3 replies."""

    def send_exists_and_not_before(self, token_key: str, subject_key: str) -> Reply:
        """``EXISTS token_key`` and ``ZSCORE subject_key nbf`` in one round trip: 2 replies."""


class AsyncTransport(Protocol):
    async def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        """``SET key 1 EX ttl`` for each key, non-transactionally, every reply read."""

    async def send_exists(self, keys: Sequence[str]) -> Reply:
        """``EXISTS key`` for each key (one key per command)."""

    async def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        """``ZADD key GT not_before nbf``, ``EXPIRE key s NX``, ``EXPIRE key s GT``: 3 replies."""

    async def send_exists_and_not_before(self, token_key: str, subject_key: str) -> Reply:
        """``EXISTS token_key`` and ``ZSCORE subject_key nbf`` in one round trip: 2 replies."""


def _not_before_commands(
    key: str, not_before: int, expire_seconds: int
) -> list[tuple[str | int, ...]]:
    """The commands of ``revoke_all`` (see :mod:`.subjects` for why these three)."""
    return [
        ("ZADD", key, "GT", not_before, NOT_BEFORE_MEMBER),
        ("EXPIRE", key, expire_seconds, "NX"),
        ("EXPIRE", key, expire_seconds, "GT"),
    ]


class PipelineTransport:
    """A redis-py pipeline with ``raise_on_error=False``: one round trip per chunk."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        pipe = self._client.pipeline(transaction=False)
        for key, ttl in zip(keys, ttls, strict=True):
            pipe.execute_command("SET", key, b"1", "EX", ttl)  # type: ignore[no-untyped-call]
        try:
            return pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error

    def send_exists(self, keys: Sequence[str]) -> Reply:
        try:
            if len(keys) == 1:  # the logout/auth hot path: no pipeline machinery
                return [self._client.execute_command("EXISTS", keys[0])]  # type: ignore[no-untyped-call]
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command("EXISTS", key)  # type: ignore[no-untyped-call]
            return pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error

    def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        pipe = self._client.pipeline(transaction=False)
        for command in _not_before_commands(key, not_before, expire_seconds):
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        try:
            return pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error

    def send_exists_and_not_before(self, token_key: str, subject_key: str) -> Reply:
        pipe = self._client.pipeline(transaction=False)
        pipe.execute_command("EXISTS", token_key)  # type: ignore[no-untyped-call]
        pipe.execute_command("ZSCORE", subject_key, NOT_BEFORE_MEMBER)  # type: ignore[no-untyped-call]
        try:
            return pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error


class AsyncPipelineTransport:
    """The asyncio twin of :class:`PipelineTransport`."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client

    async def send_sets(self, keys: Sequence[str], ttls: Sequence[int]) -> Reply:
        pipe = self._client.pipeline(transaction=False)
        for key, ttl in zip(keys, ttls, strict=True):
            pipe.execute_command("SET", key, b"1", "EX", ttl)
        try:
            return await pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error

    async def send_exists(self, keys: Sequence[str]) -> Reply:
        try:
            if len(keys) == 1:
                return [await self._client.execute_command("EXISTS", keys[0])]  # type: ignore[no-untyped-call]
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command("EXISTS", key)
            return await pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error

    async def send_not_before(self, key: str, not_before: int, expire_seconds: int) -> Reply:
        pipe = self._client.pipeline(transaction=False)
        for command in _not_before_commands(key, not_before, expire_seconds):
            pipe.execute_command(*command)
        try:
            return await pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error

    async def send_exists_and_not_before(self, token_key: str, subject_key: str) -> Reply:
        pipe = self._client.pipeline(transaction=False)
        pipe.execute_command("EXISTS", token_key)
        pipe.execute_command("ZSCORE", subject_key, NOT_BEFORE_MEMBER)
        try:
            return await pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            return error


def sentinel_managed(client: object) -> bool:
    """A ``Sentinel(...).master_for(...)`` client (sync or asyncio): see :mod:`.sentinel`."""
    pool = getattr(client, "connection_pool", None)
    return isinstance(
        pool,
        redis.sentinel.SentinelConnectionPool | redis.asyncio.sentinel.SentinelConnectionPool,
    )


def sync_transport_for(
    client: Any, *, fast_path: bool = True, spans: RoundTripSpans | None = None
) -> SyncTransport:
    """The transport for a synchronous client.

    ``fast_path`` selects :class:`.wire.WireTransport` (hand-packed chunks on the client's
    own pooled connections) for a standalone :class:`redis.Redis`; ``spans`` traces its
    round trips, which redis-py instrumentation cannot see (see :mod:`.round_trips`).
    """
    if isinstance(client, redis.asyncio.Redis | redis.asyncio.RedisCluster):
        raise TypeError("redis.asyncio clients need AsyncTokenBlacklist")
    if isinstance(client, redis.RedisCluster):
        from .cluster import ClusterTransport  # cluster builds on this module

        return ClusterTransport(client)
    if isinstance(client, redis.Redis) and sentinel_managed(client):
        from .sentinel import SentinelTransport

        return SentinelTransport(client)
    if not callable(getattr(client, "pipeline", None)):
        raise TypeError(f"expected a redis.Redis client, got {type(client).__name__}")
    if fast_path and isinstance(client, redis.Redis):
        from .wire import WireTransport  # wire builds on this module

        return WireTransport(client, spans)
    return PipelineTransport(client)


def async_transport_for(
    client: Any, *, fast_path: bool = True, spans: RoundTripSpans | None = None
) -> AsyncTransport:
    """The transport for an asyncio client (``fast_path``: see :func:`sync_transport_for`)."""
    if isinstance(client, redis.Redis | redis.RedisCluster):
        raise TypeError("synchronous redis.Redis clients need TokenBlacklist")
    if isinstance(client, redis.asyncio.RedisCluster):
        from .cluster import AsyncClusterTransport

        return AsyncClusterTransport(client)
    if isinstance(client, redis.asyncio.Redis) and sentinel_managed(client):
        from .sentinel import AsyncSentinelTransport

        return AsyncSentinelTransport(client)
    if not callable(getattr(client, "pipeline", None)):
        raise TypeError(f"expected a redis.asyncio.Redis client, got {type(client).__name__}")
    if fast_path and isinstance(client, redis.asyncio.Redis):
        from .wire import AsyncWireTransport

        return AsyncWireTransport(client, spans)
    return AsyncPipelineTransport(client)
