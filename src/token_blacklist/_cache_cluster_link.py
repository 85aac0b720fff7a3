"""The check cache on a Redis Cluster, blocking client: one link per node, supervised by a
thread that re-points them when the cluster's nodes change (see :class:`ClusterLinkGroup`).
The asyncio group (:mod:`._cache_link_async`) shares :func:`known_nodes` and
:func:`answer_of`."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from ._cache_link import CacheLink, LinkLost, connect
from ._cache_target import CacheMetrics, LinkTarget, nodes_in, target_of, topology_question
from ._core.check_cache import NEED_DATA, CacheMember, CacheState, Push, Resp3Reader, RespError

__all__ = [
    "CLUSTER_RECHECK",
    "QUESTION_TIMEOUT",
    "ClusterLinkGroup",
    "answer_of",
    "known_nodes",
    "nodes_to_ask",
    "topology_changes",
]

CLUSTER_RECHECK = 1.0
"""Seconds between two questions to a cluster about its nodes (sooner when a link is lost)."""

QUESTION_TIMEOUT = 1.0
"""Seconds a node has to answer ``CLUSTER NODES`` before the next one is asked."""


def known_nodes(client: Any) -> list[tuple[str, int]]:
    """The nodes a cluster client knows (its slot map's, then its start-up nodes)."""
    manager = client.nodes_manager
    found: list[tuple[str, int]] = []
    for nodes in (manager.nodes_cache, manager.startup_nodes):
        for node in list(nodes.values()):
            address = (str(node.host), int(node.port))
            if address not in found:
                found.append(address)
    return found


def answer_of(reader: Resp3Reader, replies: list[Any]) -> Any:
    """The ``CLUSTER NODES`` reply once both replies are in (``NEED_DATA`` until then)."""
    while len(replies) < 2:
        message = reader.gets()
        if message is NEED_DATA:
            return NEED_DATA
        if isinstance(message, RespError):
            raise LinkLost(f"CLUSTER NODES refused ({message})")
        if not isinstance(message, Push):
            replies.append(message)
    return replies[1]


def nodes_to_ask(links: dict[tuple[str, int], Any], client: Any) -> list[tuple[str, int]]:
    """Whom to ask the cluster's nodes, in order: the nodes linked and up, then the others
    the client knows (both groups, sync and asyncio, ask in this order)."""
    up = [node for node, (_, member) in links.items() if member.link_up]
    return up + [n for n in known_nodes(client) if n not in up]


def topology_changes(
    known: dict[tuple[str, int], str],
    links: dict[tuple[str, int], Any],
    topology: dict[tuple[str, int], str],
) -> tuple[list[tuple[str, int]], list[tuple[tuple[str, int], str]]] | None:
    """``(nodes whose link goes, (node, role) to link)``, or None when nothing changed. A
    node already linked keeps its link: its role is its own ``ROLE``'s, and gossip may lag
    behind it."""
    if topology == known:
        return None
    gone = [node for node in links if node not in topology]
    new = [(node, role) for node, role in topology.items() if node not in links]
    return gone, new


class ClusterLinkGroup:
    """Redis Cluster: one link per node, all keeping one :class:`CacheState` true.

    Tracking is per node: a master pushes the invalidations of the writes it executes, a
    replica those of the writes it replicates. Every master is linked, and every replica
    too: a failover then promotes a node whose link already tracks, so the writes it takes
    are invalidated from its first one (linking masters only would leave a gap until the
    former master learns it was demoted). The state serves only while every link is up and
    fresh (fresh as of the oldest of their newest answered heartbeats); a link that
    connects or is lost empties it. A link's heartbeat is ``ROLE``: a node whose role
    changed loses its link. A supervisor thread asks the cluster (``CLUSTER NODES``, on a
    connection of its own, with a timeout) its nodes and roles, every
    :data:`CLUSTER_RECHECK` and as soon as a link is lost; when they differ from what it
    knew, the cache is emptied and the links re-pointed (closed for nodes gone, started for
    new ones: a master without slots yet included, a failed node excluded).
    """

    def __init__(
        self, client: Any, prefix: str, state: CacheState, *, metrics: CacheMetrics, logger: Any
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.state = state
        self._metrics = metrics
        self._logger = logger
        self._known: dict[tuple[str, int], str] = {}
        self.links: dict[tuple[str, int], tuple[CacheLink, CacheMember]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="token-blacklist-cache-cluster", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        for link, _ in list(self.links.values()):
            link.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                topology = self._topology()
                if topology is not None:
                    self._repoint(topology)
            self._wake.wait(CLUSTER_RECHECK)
            self._wake.clear()
            self._stop.wait(self.state.config.ping_interval)  # a lost link: not a busy loop

    def _topology(self) -> dict[tuple[str, int], str] | None:
        """The nodes and roles, per the first node that answers (those linked and up first)."""
        for node in nodes_to_ask(self.links, self._client):
            if self._stop.is_set():
                return None
            target = target_of(self._client, node)
            try:
                return self._ask(target)
            except (OSError, LinkLost, RespError, ValueError, IndexError, TypeError):
                continue
        return None

    def _ask(self, target: LinkTarget) -> dict[tuple[str, int], str]:
        sock = connect(target)
        try:
            sock.sendall(topology_question(target))
            reader, replies = Resp3Reader(), list[Any]()
            deadline = time.monotonic() + QUESTION_TIMEOUT
            while (answer := answer_of(reader, replies)) is NEED_DATA:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LinkLost("no answer to CLUSTER NODES")
                sock.settimeout(left)
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("closed before CLUSTER NODES was answered")
                reader.feed(data)
            return nodes_in(answer, target)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def _repoint(self, topology: dict[tuple[str, int], str]) -> None:
        changes = topology_changes(self._known, self.links, topology)
        if changes is None:
            return
        gone, new = changes
        for node in gone:
            link, member = self.links.pop(node)
            link.close()
            self.state.leave(member)
        for node, role in new:
            member = self.state.join(self._wake.set)
            link = CacheLink(
                self._client, self._prefix, member, metrics=self._metrics,
                logger=self._logger, node=node,
            )  # fmt: skip
            link.role = role
            self.links[node] = (link, member)
            link.start()
        self._known = dict(topology)
        self.state.reset()
