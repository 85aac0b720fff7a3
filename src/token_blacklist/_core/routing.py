"""Sans-IO routing for Redis Cluster: which node gets which command, and what comes back.

:func:`exchange` holds every routing decision of one send (grouping by the node that owns
each key's slot, following MOVED/ASK, what a lost node means for its commands) as a
generator; the sync and async transports of :mod:`token_blacklist._cluster` only move its
batches, one node after the other or all nodes concurrently, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.exceptions as rex

from .._compat import ASYNC_CLUSTERS, SYNC_CLUSTERS, errors
from .commands import command_key

__all__ = [
    "MAX_REDIRECTS",
    "Command",
    "Exchange",
    "ExchangeOutcome",
    "NodeBatch",
    "NodeReply",
    "exchange",
    "is_cluster_client",
]

Command = tuple[Any, ...]
"""``("SET", key, ...)``, ``("EVAL", script, 1, key, ...)``: see :func:`.commands.command_key`."""
NodeReply = Sequence[object] | BaseException
"""What one node answered a batch: a reply per command, or the error that lost them all."""

MAX_REDIRECTS = 3
"""MOVED/ASK hops followed for one command within one send; then the error is its reply."""

CLUSTER_CLIENTS = (*SYNC_CLUSTERS, *ASYNC_CLUSTERS)


def is_cluster_client(client: object) -> bool:
    """True for redis-py's sync or asyncio ``RedisCluster`` (or valkey-py's ``ValkeyCluster``)."""
    return isinstance(client, CLUSTER_CLIENTS)


_LOST = (*errors("ConnectionError"), *errors("TimeoutError"), OSError)
_TIMEOUTS = errors("TimeoutError")
_ASK = errors("AskError")
_MOVED = errors("MovedError")
_UNROUTABLE = (*errors("RedisError"), *errors("RedisClusterException"))
"""Errors that break the connection: later replies of the same batch are lost with it."""


@dataclass(frozen=True, slots=True)
class NodeBatch:
    """Commands for one node (``host:port``); with ``asking`` each follows an ``ASKING``."""

    node: str
    positions: list[int]
    commands: list[Command]
    asking: bool = False


@dataclass(frozen=True, slots=True)
class Exchange:
    """One step: apply the ``moved`` slot updates, then send every batch (any order)."""

    batches: list[NodeBatch]
    moved: list[Any]  # MovedError of redis-py or valkey-py


@dataclass(slots=True)
class ExchangeOutcome:
    """One reply per command, and the nodes that took part or lost a round trip."""

    replies: list[object]
    nodes: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    refresh: str | None = None
    """A node that refused or dropped connections: the slot map may be stale."""


def _batches(targets: dict[int, tuple[str, bool]], commands: Sequence[Command]) -> list[NodeBatch]:
    grouped: dict[tuple[str, bool], list[int]] = {}
    for position, target in targets.items():
        grouped.setdefault(target, []).append(position)
    batches = []
    for (node, asking), positions in grouped.items():
        sent = [commands[p] for p in positions]
        if asking:  # ASKING allows exactly the next command on the same connection
            sent = [c for command in sent for c in (("ASKING",), command)]
        batches.append(NodeBatch(node, positions, sent, asking))
    return batches


def _per_command(batch: NodeBatch, reply: NodeReply) -> list[object]:
    """One reply per position; after a connection broke, the rest are lost with it."""
    if isinstance(reply, BaseException):
        return [reply] * len(batch.positions)
    replies = list(reply[1::2] if batch.asking else reply)
    if len(replies) != len(batch.positions):
        return [rex.ClusterError("reply count does not match")] * len(batch.positions)
    for index, value in enumerate(replies):
        if isinstance(value, _LOST):
            replies[index:] = [value] * (len(replies) - index)
            break
    return replies


def _node_name(error: Any) -> str:
    return f"{error.host}:{error.port}"


def exchange(
    commands: Sequence[Command], locate: Callable[[bytes], str]
) -> Generator[Exchange, list[NodeReply], ExchangeOutcome]:
    """Route ``commands`` by key slot (``locate``: key -> node), follow redirects.

    Receives one :data:`NodeReply` per batch of each :class:`Exchange`, in order.
    A key whose slot no node serves gets the routing error as its reply.
    """
    outcome = ExchangeOutcome([None] * len(commands))
    targets: dict[int, tuple[str, bool]] = {}
    for position, command in enumerate(commands):
        try:
            targets[position] = (locate(command_key(command)), False)
        except _UNROUTABLE as error:
            outcome.replies[position] = error
    moved: dict[int, Any] = {}
    for hop in range(MAX_REDIRECTS + 1):
        if not targets:
            break
        batches = _batches(targets, commands)
        node_replies = yield Exchange(batches, list(moved.values()))
        moved, targets = {}, {}
        for batch, node_reply in zip(batches, node_replies, strict=True):
            outcome.nodes.add(batch.node)
            for position, reply in zip(
                batch.positions, _per_command(batch, node_reply), strict=True
            ):
                outcome.replies[position] = reply
                if isinstance(reply, _LOST):
                    outcome.failed.add(batch.node)
                    if not isinstance(reply, _TIMEOUTS):
                        outcome.refresh = batch.node
                elif isinstance(reply, _ASK) and hop < MAX_REDIRECTS:
                    # MOVED: the slot has a new owner for good; ASK: this command only,
                    # while the slot migrates (MovedError is an AskError subclass).
                    is_moved = isinstance(reply, _MOVED)
                    targets[position] = (_node_name(reply), not is_moved)
                    if is_moved:
                        moved[getattr(reply, "slot_id")] = reply  # noqa: B009
    return outcome
