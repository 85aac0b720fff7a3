"""The check cache's invalidation link for the blocking client: a daemon thread.

The thread owns one socket: it connects, sends ``HELLO 3`` and ``CLIENT TRACKING ON BCAST
PREFIX <prefix>``, then reads push messages (invalidations, applied to the
:class:`~._core.check_cache.CacheState`) and the replies to its own heartbeat ``PING``s,
one every ``ping_interval``. A heartbeat unanswered for ``max_staleness``, any error, a
closed socket or (Sentinel) a new master empties the cache and reconnects; until a
heartbeat sent after tracking was on is answered, every check goes to Redis.

:class:`CachingTransport` sits in front of the client's transport: ``EXISTS`` and
``EXISTS`` + ``ZSCORE`` batches are answered from the state when every key is cached and
the link is fresh, else sent and their replies stored; everything else passes through.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from ._cache_target import (
    CLUSTER_HEARTBEAT,
    CLUSTER_HEARTBEAT_REPLIES,
    PING,
    CacheMetrics,
    ClusterView,
    LinkTarget,
    handshake,
    target_of,
)
from ._core.check_cache import NEED_DATA, CacheMember, CacheState, Push, Resp3Reader, RespError
from ._core.commands import Batch, CheckTokenAndSubject, ExistsTokens
from ._observability.metrics import incrementer

__all__ = [
    "CachedChecks",
    "CachedReply",
    "CachingTransport",
    "LinkLost",
    "RoleChanged",
    "TopologyMoved",
    "apply_message",
    "cached_keys",
    "connect",
    "heartbeat_of",
    "shared_state",
]

SENTINEL_RECHECK = 1.0
"""Seconds between two questions to the Sentinels about the current master."""

LinkState = CacheState | CacheMember
"""What a link keeps true: the state itself, or its share of a group's (a cluster's)."""


class LinkLost(Exception):
    """The link must reconnect (late heartbeat, new master, refused handshake)."""


class RoleChanged(LinkLost):
    """A cluster link's node answered ``ROLE`` with another role (a failover)."""

    def __init__(self, role: str) -> None:
        super().__init__(f"the node is a {role} now")
        self.role = role


class TopologyMoved(LinkLost):
    """A cluster link's node knows another number of nodes, or a newer epoch, than when the
    link started (a node met or forgotten, a failover, a slot moved)."""


def heartbeat_of(node: tuple[str, int] | None) -> tuple[bytes, int]:
    """What a link sends as its heartbeat, and how many replies answer it."""
    return (PING, 1) if node is None else (CLUSTER_HEARTBEAT, CLUSTER_HEARTBEAT_REPLIES)


class CachedReply(list[Any]):
    """Replies answered from memory (the shell marks the span)."""


def cached_keys(batch: Batch) -> Sequence[str] | None:
    if isinstance(batch, ExistsTokens):
        return batch.keys
    if isinstance(batch, CheckTokenAndSubject):
        return (batch.token_key, batch.subject_key)
    return None


def apply_message(
    state: LinkState, message: Any, pending: deque[float], metrics: CacheMetrics, *,
    role: str | None = None, view: ClusterView | None = None,
) -> None:  # fmt: skip
    """One message read on the link: an invalidation, or a reply to a heartbeat (a
    cluster link's ``CLUSTER INFO``, which must agree with ``view``, and ``ROLE``: the node
    must still have the ``role`` the group knows)."""
    if isinstance(message, Push):
        if message and message[0] == b"invalidate":
            keys = message[1] if len(message) > 1 else None
            state.invalidate(None if keys is None else [k.decode("utf-8", "replace") for k in keys])
        return
    if not pending:
        raise LinkLost("a reply nobody asked for")
    sent = pending.popleft()
    if isinstance(message, RespError):
        raise LinkLost(f"heartbeat refused ({message})")
    if view is not None and isinstance(message, bytes | str):
        if view.changed(message):
            raise TopologyMoved("the node's cluster changed (nodes or epoch)")
        return  # freshness comes with the heartbeat's last reply (ROLE), once checked
    if role is not None and isinstance(message, list) and message and _role(message) != role:
        raise RoleChanged(_role(message))  # a failover: start empty
    state.heartbeat(sent)
    metrics.heartbeat.observe(time.monotonic() - sent)


def _role(reply: list[Any]) -> str:
    """``ROLE``'s reply: ``[b"master", ...]`` or ``[b"slave", ...]``."""
    return "master" if reply[0] == b"master" else "replica"


def store_reply(
    state: CacheState, ticket: tuple[int, int], keys: Sequence[str], reply: Any
) -> None:
    if isinstance(reply, BaseException) or len(reply) != len(keys):
        return
    if any(isinstance(value, BaseException) for value in reply):
        return
    state.put(ticket, keys, reply)


class CacheLink:
    """The daemon thread that keeps ``state`` true for a blocking client."""

    def __init__(
        self, client: Any, prefix: str, state: LinkState, *, metrics: CacheMetrics,
        logger: Any, sentinel_pool: Any = None, node: tuple[str, int] | None = None,
    ) -> None:  # fmt: skip
        self._client = client
        self._prefix = prefix
        self.state = state
        self._metrics = metrics
        self._logger = logger
        self._sentinel_pool = sentinel_pool
        self.node = node
        """A cluster link's node (its heartbeat is then ``CLUSTER INFO`` + ``ROLE``)."""
        self._heartbeat, self._replies_per_heartbeat = heartbeat_of(node)
        self.role: str | None = None
        """A cluster link's node's role, as last learnt (``ROLE`` must agree, else the link
        is lost once: the cache is emptied on a failover)."""
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="token-blacklist-cache", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def _address(self) -> tuple[str, int] | None:
        if self.node is not None:
            return self.node
        if self._sentinel_pool is None:
            return None
        host, port = self._sentinel_pool.get_master_address()
        return str(host), int(port)

    def _connect(self, target: LinkTarget) -> socket.socket:
        return connect(target)

    def _run(self) -> None:
        backoff = 0.02
        while not self._stop.is_set():
            reason, was_up = "closed", False
            try:
                address = self._address()
                target = target_of(self._client, address)
                sock = self._sock = self._connect(target)
                reader = Resp3Reader()
                sock.sendall(handshake(target, self._prefix))
                self._expect_handshake(sock, reader)
                self.state.connected()
                self._metrics.link_up.set(1)
                self._logger.up()
                backoff = 0.02
                self._serve(sock, reader, address)
            except (OSError, LinkLost, RespError, ValueError) as error:
                reason = type(error).__name__
                if isinstance(error, RoleChanged):
                    self.role = error.role  # the node's own word, ahead of the gossip's
            except Exception as error:
                reason = type(error).__name__
            finally:
                was_up = self.state.link_up
                self.state.lost()
                self._metrics.link_up.set(0)
                if self._sock is not None:
                    with contextlib.suppress(OSError):
                        self._sock.close()
                    self._sock = None
            if was_up:
                self._metrics.links_lost.inc()
            if not self._stop.is_set():
                self._logger.down(reason)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 1.0)

    def _read(self, sock: socket.socket, reader: Resp3Reader, timeout: float) -> bool:
        sock.settimeout(max(timeout, 0.0005))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return False
        if not data:
            raise ConnectionError("the link was closed by the server")
        reader.feed(data)
        return True

    def _expect_handshake(self, sock: socket.socket, reader: Resp3Reader) -> None:
        replies: list[Any] = []
        deadline = time.monotonic() + 5.0
        while len(replies) < 2:
            message = reader.gets()
            if message is NEED_DATA:
                if time.monotonic() > deadline:
                    raise LinkLost("no answer to HELLO / CLIENT TRACKING")
                self._read(sock, reader, deadline - time.monotonic())
                continue
            if isinstance(message, RespError):
                raise LinkLost(f"handshake refused ({message})")
            if not isinstance(message, Push):
                replies.append(message)

    def _serve(self, sock: socket.socket, reader: Resp3Reader, address: Any) -> None:
        config = self.state.config
        pending: deque[float] = deque()
        view = ClusterView() if self.node is not None else None
        next_ping = 0.0
        recheck = time.monotonic() + SENTINEL_RECHECK
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_ping:
                pending.extend([now] * self._replies_per_heartbeat)
                sock.sendall(self._heartbeat)
                next_ping = now + config.ping_interval
            if pending and now - pending[0] > config.max_staleness:
                raise LinkLost("heartbeat late")
            if self._sentinel_pool is not None and now >= recheck:
                recheck = now + SENTINEL_RECHECK
                if self._address() != address:
                    raise LinkLost("the Sentinels name another master")
            wake = next_ping if not pending else min(next_ping, pending[0] + config.max_staleness)
            if self._read(sock, reader, wake - now):
                while (message := reader.gets()) is not NEED_DATA:
                    apply_message(
                        self.state, message, pending, self._metrics, role=self.role, view=view
                    )


def shared_state(state: LinkState) -> CacheState:
    return state if isinstance(state, CacheState) else state.shared


def connect(target: LinkTarget) -> socket.socket:
    if target.path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(target.connect_timeout)
        sock.connect(target.path)
    else:
        sock = socket.create_connection((target.host, target.port), target.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if target.ssl_context is not None:
        sock = target.ssl_context.wrap_socket(sock, server_hostname=target.server_hostname)
    return sock


class CachedChecks:
    """The shells' shortcut for one hash: its cached answer, or None (then the call goes
    the usual way, through :class:`CachingTransport`, which counts the miss or bypass)."""

    def __init__(self, state: CacheState, metrics: CacheMetrics) -> None:
        self._state = state
        self._hit = incrementer(metrics.hit)

    def hit(self, key: str) -> bool | None:
        state = self._state
        if time.monotonic() - state.fresh_as_of > state.max_staleness:
            return None
        value = state.entries.get(key)
        if value is None:
            return None
        try:  # noqa: SIM105 - not contextlib.suppress: a third of a microsecond a hit
            state.entries.move_to_end(key)
        except KeyError:  # invalidated meanwhile: the answer was fresh when read
            pass
        self._hit(1)
        return bool(value)


class Link(Protocol):
    """A :class:`CacheLink`, or a cluster's :class:`~._cache_cluster_link.ClusterLinkGroup`."""

    state: LinkState

    def close(self) -> None: ...


class CachingTransport:
    """The client's transport, with checks answered from the cache when it may."""

    def __init__(self, inner: Any, link: Link, metrics: CacheMetrics) -> None:
        self._inner = inner
        self._link = link
        self._state = shared_state(link.state)
        self._metrics = metrics
        self.cached_checks = CachedChecks(self._state, metrics)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def round_trip(self, batch: Batch) -> Any:
        keys = cached_keys(batch)
        if keys is None:
            return self._inner.round_trip(batch)
        state = self._state
        found = state.get(keys)
        if found is not None:
            self._metrics.hit.inc()
            return CachedReply(found)
        serving = state.serving()
        (self._metrics.miss if serving else self._metrics.bypass).inc()
        ticket = state.ticket()
        reply = self._inner.round_trip(batch)
        if serving:
            store_reply(state, ticket, keys, reply)
        return reply

    def close(self) -> None:
        self._link.close()
