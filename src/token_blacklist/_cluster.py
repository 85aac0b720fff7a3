"""Redis Cluster: every key goes to the node that owns its slot, one pipeline per node.

redis-py's own cluster pipeline cannot say which keys were written when a node dies: the
sync one fails the whole ``execute()`` or overwrites a node's read replies with the error,
the async one raises after healthy nodes have applied their share. Here each node's share
is its own round trip, so a dead or hung node fails only its own commands, MOVED/ASK
redirects are followed, and the decision core receives exactly one reply per command, in
order, as from any other transport.

:func:`._core.routing.exchange` holds every routing decision as a sans-IO generator; the
sync and async transports here only move its batches, one node after the other or all
nodes concurrently. They are the one pair of transports written by hand on both sides
rather than generated from ``_async``: the two redis-py cluster clients differ in their
node APIs (a sync node is a ``Redis`` client with pipelines, an asyncio one a
``ClusterNode`` with ``execute_pipeline``), not only by ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio.cluster
import redis.cluster
import redis.exceptions as rex
from redis.crc import key_slot

from ._compat import (
    async_move_slot,
    async_refresh_slots,
    errors,
    node_client_getter,
    node_release,
    sync_move_slot,
    sync_refresh_slots,
)
from ._core.classify import REDIS_FAILURES
from ._core.commands import Batch, Command
from ._core.protocol import Reply
from ._core.routing import ExchangeOutcome, NodeBatch, NodeReply, exchange
from ._observability.nodes import note_nodes
from ._sync.pipeline import pipelined

__all__ = [
    "AsyncClusterTransport",
    "ClusterTransport",
    "server_map",
]

_ANY_FAILURE: tuple[type[BaseException], ...] = (
    *REDIS_FAILURES,
    *errors("RedisClusterException"),
)
"""A lost round trip, or a slot map that could not be had (redis-py or valkey-py)."""

REFRESH_INTERVAL = 1.0
"""Seconds between slot-map refreshes after a node refused or lost a connection."""


class _Refresher:
    """Rate-limits slot-map refreshes after connection failures (at most one a second)."""

    def __init__(self) -> None:
        self._last = float("-inf")

    def due(self, outcome: ExchangeOutcome) -> bool:
        now = time.monotonic()
        if outcome.refresh is None or now - self._last < REFRESH_INTERVAL:
            return False
        self._last = now
        return True


class ClusterTransport:
    """Sync: one pipeline per node on the node's own pool, nodes one after the other.

    The node clients redis-py creates do not retry (``Retry`` with 0 retries); every
    re-send is the decision core's, within the caller's ``retries``.
    """

    def __init__(self, client: redis.cluster.RedisCluster) -> None:
        self._client = client
        self._node_client = node_client_getter(client)
        self._refresher = _Refresher()

    def node_of(self, key: str | bytes) -> str:
        """``host:port`` of the primary that owns ``key``'s slot, per the slot map."""
        return _node_of(self._client, key)

    def round_trip(self, commands: Batch) -> Reply:
        return self._run(commands.args())

    def _run(self, commands: list[Command]) -> Reply:
        flow = exchange(commands, self.node_of)
        try:
            step = next(flow)
            while True:
                for moved in step.moved:
                    sync_move_slot(self._client.nodes_manager, moved)
                step = flow.send([self._send(batch) for batch in step.batches])
        except StopIteration as stop:
            outcome: ExchangeOutcome = stop.value
        note_nodes(outcome.nodes, outcome.failed)
        if self._refresher.due(outcome):
            with contextlib.suppress(*_ANY_FAILURE):
                sync_refresh_slots(self._client.nodes_manager, outcome.refresh)
        return outcome.replies

    def _send(self, batch: NodeBatch) -> NodeReply:
        node = self._client.get_node(node_name=batch.node)  # type: ignore[no-untyped-call]
        if node is None:
            return rex.ClusterError("redirected to a node the slot map does not know")
        try:
            return pipelined(self._node_client(node), batch.commands)
        except REDIS_FAILURES as error:
            return error


class AsyncClusterTransport:
    """Asyncio: the same exchange, every node's batch sent concurrently."""

    def __init__(self, client: redis.asyncio.cluster.RedisCluster) -> None:
        self._client = client
        self._refresher = _Refresher()

    def node_of(self, key: str | bytes) -> str:
        """``host:port`` of the primary that owns ``key``'s slot, per the slot map."""
        return _node_of(self._client, key)

    async def round_trip(self, commands: Batch) -> Reply:
        return await self._run(commands.args())

    async def _run(self, commands: list[Command]) -> Reply:
        try:
            await self._client.initialize()  # a no-op once the slot map is loaded
        except _ANY_FAILURE as error:
            return error
        flow = exchange(commands, self.node_of)
        try:
            step = next(flow)
            while True:
                for moved in step.moved:
                    await async_move_slot(self._client.nodes_manager, moved)
                replies = await asyncio.gather(*(self._send(b) for b in step.batches))
                step = flow.send(list(replies))
        except StopIteration as stop:
            outcome: ExchangeOutcome = stop.value
        note_nodes(outcome.nodes, outcome.failed)
        if self._refresher.due(outcome):
            with contextlib.suppress(*_ANY_FAILURE):
                await async_refresh_slots(self._client.nodes_manager, outcome.refresh)
        return outcome.replies

    async def _send(self, batch: NodeBatch) -> NodeReply:
        node = self._client.get_node(node_name=batch.node)
        if node is None:
            return rex.ClusterError("redirected to a node the slot map does not know")
        try:
            return await _node_pipeline(node, batch.commands)
        except REDIS_FAILURES as error:
            return error


def _node_of(client: Any, key: str | bytes) -> str:
    raw = key if isinstance(key, bytes) else key.encode()
    node = client.nodes_manager.get_node_from_slot(key_slot(raw))
    return str(node.name)


async def _node_pipeline(node: Any, commands: list[Command]) -> list[object]:
    """``ClusterNode.execute_pipeline`` without its one gap: a ``BaseException`` (a
    cancellation) between sending and reading gave the connection back to the node's free
    list with the replies unread. Here it is disconnected first, as in ``_async/pipeline``."""
    connection = node.acquire_connection()
    try:
        if hasattr(node, "disconnect_if_needed"):  # redis-py >= 7: maintenance events
            await node.disconnect_if_needed(connection)
        await connection.send_packed_command(connection.pack_commands(commands))
        replies: list[object] = []
        for command in commands:
            try:
                replies.append(await node.parse_response(connection, command[0]))
            except Exception as error:  # an error reply, or the connection lost with it
                replies.append(error)
        return replies
    except BaseException:
        await connection.disconnect(nowait=True)
        raise
    finally:
        node_release(node, connection)


def server_map(transport: object, key_prefix: str) -> Callable[[str], str | None] | None:
    """For the decision core: hash -> the node that owns it (None: one server, not a cluster).

    Lets the core tell a dead node from a dead Redis (see ``blacklist_protocol``).
    """
    if not isinstance(transport, ClusterTransport | AsyncClusterTransport):
        return None
    node_of = transport.node_of

    def server_of(token_hash: str) -> str | None:
        try:
            return node_of(key_prefix + token_hash)
        except _ANY_FAILURE:
            return None  # no node serves the slot: its own "server"

    return server_of
