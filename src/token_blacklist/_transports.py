"""Transport selection: which transport moves a client's commands.

It sits above every transport (pipeline, wire, Sentinel, cluster, in both flavours) and
below the shells, so no transport imports it and there is no import circle.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio

from ._async.pipeline import AsyncPipelineTransport, AsyncTransport
from ._async.sentinel import AsyncSentinelTransport
from ._async.wire import AsyncWireTransport
from ._cluster import AsyncClusterTransport, ClusterTransport
from ._compat import (
    ASYNC_CLIENTS,
    ASYNC_CLUSTERS,
    SENTINEL_POOLS,
    SYNC_CLIENTS,
    SYNC_CLUSTERS,
)
from ._observability.round_trips import RoundTripSpans
from ._sync.pipeline import PipelineTransport, Transport
from ._sync.sentinel import SentinelTransport
from ._sync.wire import WireTransport

__all__ = [
    "AsyncTransport",
    "Transport",
    "async_transport_for",
    "sentinel_managed",
    "sync_transport_for",
]


def sentinel_managed(client: object) -> bool:
    """A ``Sentinel(...).master_for(...)`` client (sync or asyncio): see ``_async/sentinel``."""
    pool = getattr(client, "connection_pool", None)
    return isinstance(pool, SENTINEL_POOLS)


def sync_transport_for(
    client: Any, *, fast_path: bool = True, spans: RoundTripSpans | None = None
) -> Transport:
    """The transport for a synchronous client.

    ``fast_path`` selects the wire transport (batches packed by the core, on the client's
    own pooled connections) for a standalone :class:`redis.Redis`; ``spans`` traces its
    round trips, which redis-py instrumentation cannot see (see ``round_trips``).
    """
    if isinstance(client, (*ASYNC_CLIENTS, *ASYNC_CLUSTERS)):
        raise TypeError("redis.asyncio clients need AsyncTokenBlacklist")
    if isinstance(client, SYNC_CLUSTERS):
        return ClusterTransport(client)
    if isinstance(client, SYNC_CLIENTS) and sentinel_managed(client):
        return SentinelTransport(client)
    if not callable(getattr(client, "pipeline", None)):
        raise TypeError(f"expected a redis.Redis client, got {type(client).__name__}")
    if fast_path and isinstance(client, redis.Redis):
        return WireTransport(client, spans)
    return PipelineTransport(client)


def async_transport_for(
    client: Any, *, fast_path: bool = True, spans: RoundTripSpans | None = None
) -> AsyncTransport:
    """The transport for an asyncio client (``fast_path``: see :func:`sync_transport_for`)."""
    if isinstance(client, (*SYNC_CLIENTS, *SYNC_CLUSTERS)):
        raise TypeError("synchronous redis.Redis clients need TokenBlacklist")
    if isinstance(client, ASYNC_CLUSTERS):
        return AsyncClusterTransport(client)
    if isinstance(client, ASYNC_CLIENTS) and sentinel_managed(client):
        return AsyncSentinelTransport(client)
    if not callable(getattr(client, "pipeline", None)):
        raise TypeError(f"expected a redis.asyncio.Redis client, got {type(client).__name__}")
    if fast_path and isinstance(client, redis.asyncio.Redis):
        return AsyncWireTransport(client, spans)
    return AsyncPipelineTransport(client)
