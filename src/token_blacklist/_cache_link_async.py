"""The check cache's invalidation link for the asyncio client: a task of the client's loop.

The same link as ``_cache_link``'s thread (see there), on asyncio streams. The task starts
on the first check (a loop is running then) and runs until :meth:`AsyncCacheLink.aclose`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from typing import Any

from ._cache_cluster_link import (
    CLUSTER_RECHECK,
    QUESTION_TIMEOUT,
    answer_of,
    nodes_to_ask,
    topology_changes,
)
from ._cache_link import (
    SENTINEL_RECHECK,
    CachedChecks,
    CachedReply,
    LinkLost,
    LinkState,
    RoleChanged,
    apply_message,
    cached_keys,
    heartbeat_of,
    shared_state,
    store_reply,
)
from ._cache_target import (
    CacheMetrics,
    ClusterView,
    LinkTarget,
    handshake,
    nodes_in,
    target_of,
    topology_question,
)
from ._core.check_cache import NEED_DATA, CacheMember, CacheState, Push, Resp3Reader, RespError
from ._core.commands import Batch

__all__ = ["AsyncCacheLink", "AsyncCachingTransport", "AsyncClusterLinkGroup"]


async def open_link(
    target: LinkTarget,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if target.path is not None:
        opened = asyncio.open_unix_connection(target.path)
    else:
        opened = asyncio.open_connection(
            target.host, target.port, ssl=target.ssl_context,
            server_hostname=target.server_hostname,
        )  # fmt: skip
    reader, writer = await asyncio.wait_for(opened, target.connect_timeout)
    sock = writer.get_extra_info("socket")
    if sock is not None and target.path is None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


class AsyncCacheLink:
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
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def ensure_started(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # asyncio.wait_for can swallow a cancel that lands as its read completes (3.11):
            # the loops also stop on _closed, and this never waits for long.
            await asyncio.wait({task}, timeout=2.0)

    async def _address(self) -> tuple[str, int] | None:
        if self.node is not None:
            return self.node
        if self._sentinel_pool is None:
            return None
        host, port = await self._sentinel_pool.get_master_address()
        return str(host), int(port)

    async def _run(self) -> None:
        backoff = 0.02
        while not self._closed:
            reason, was_up, writer = "closed", False, None
            try:
                address = await self._address()
                target = target_of(self._client, address)
                reader, writer = await open_link(target)
                parser = Resp3Reader()
                writer.write(handshake(target, self._prefix))
                await self._expect_handshake(reader, parser)
                self.state.connected()
                was_up = True
                self._metrics.link_up.set(1)
                self._logger.up()
                backoff = 0.02
                await self._serve(reader, writer, parser, address)
            except (OSError, LinkLost, RespError, ValueError, TimeoutError) as error:
                reason = type(error).__name__
                if isinstance(error, RoleChanged):
                    self.role = error.role  # the node's own word, ahead of the gossip's
            except asyncio.CancelledError:
                self._forget(writer)
                raise
            except Exception as error:
                reason = type(error).__name__
            was_up = self._forget(writer) or was_up
            if was_up:
                self._metrics.links_lost.inc()
            if self._closed:
                return
            self._logger.down(reason)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def _forget(self, writer: asyncio.StreamWriter | None) -> bool:
        was_up = self.state.link_up
        self.state.lost()
        self._metrics.link_up.set(0)
        if writer is not None:
            writer.close()
        return was_up

    async def _read(self, reader: asyncio.StreamReader, parser: Resp3Reader, wait: float) -> bool:
        try:
            data = await asyncio.wait_for(reader.read(65536), max(wait, 0.0005))
        except TimeoutError:
            return False
        if not data:
            raise ConnectionError("the link was closed by the server")
        parser.feed(data)
        return True

    async def _expect_handshake(self, reader: asyncio.StreamReader, parser: Resp3Reader) -> None:
        replies = 0
        deadline = time.monotonic() + 5.0
        while replies < 2:
            message = parser.gets()
            if message is NEED_DATA:
                if time.monotonic() > deadline:
                    raise LinkLost("no answer to HELLO / CLIENT TRACKING")
                await self._read(reader, parser, deadline - time.monotonic())
                continue
            if isinstance(message, RespError):
                raise LinkLost(f"handshake refused ({message})")
            if not isinstance(message, Push):
                replies += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     parser: Resp3Reader, address: Any) -> None:  # fmt: skip
        config = self.state.config
        pending: deque[float] = deque()
        view = ClusterView() if self.node is not None else None
        next_ping = 0.0
        recheck = time.monotonic() + SENTINEL_RECHECK
        while not self._closed:
            now = time.monotonic()
            if now >= next_ping:
                pending.extend([now] * self._replies_per_heartbeat)
                writer.write(self._heartbeat)
                next_ping = now + config.ping_interval
            if pending and now - pending[0] > config.max_staleness:
                raise LinkLost("heartbeat late")
            if self._sentinel_pool is not None and now >= recheck:
                recheck = now + SENTINEL_RECHECK
                if await self._address() != address:
                    raise LinkLost("the Sentinels name another master")
            wake = next_ping if not pending else min(next_ping, pending[0] + config.max_staleness)
            if await self._read(reader, parser, wake - now):
                while (message := parser.gets()) is not NEED_DATA:
                    apply_message(
                        self.state, message, pending, self._metrics, role=self.role, view=view
                    )


class AsyncClusterLinkGroup:
    """Redis Cluster: one link task per node, all keeping one state true (as
    :class:`~._cache_link.ClusterLinkGroup`, whose rules these are); the supervisor is a
    task of the client's loop, started with the first check, stopped by :meth:`aclose`."""

    def __init__(
        self, client: Any, prefix: str, state: CacheState, *, metrics: CacheMetrics, logger: Any
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.state = state
        self._metrics = metrics
        self._logger = logger
        self._known: dict[tuple[str, int], str] = {}
        self.links: dict[tuple[str, int], tuple[AsyncCacheLink, CacheMember]] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def ensure_started(self) -> None:
        if self._task is None and not self._closed:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)
        for link, _ in list(self.links.values()):
            await link.aclose()

    def _lost(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        while not self._closed:
            with contextlib.suppress(Exception):
                topology = await self._topology()
                if topology is not None:
                    await self._repoint(topology)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), CLUSTER_RECHECK)
            wake.clear()
            await asyncio.sleep(self.state.config.ping_interval)  # a lost link: no busy loop

    async def _topology(self) -> dict[tuple[str, int], str] | None:
        for node in nodes_to_ask(self.links, self._client):
            if self._closed:
                return None
            target = target_of(self._client, node)
            try:
                return await asyncio.wait_for(self._ask(target), QUESTION_TIMEOUT)
            except (OSError, LinkLost, RespError, ValueError, IndexError, TypeError, TimeoutError):
                continue
        return None

    async def _ask(self, target: LinkTarget) -> dict[tuple[str, int], str]:
        reader, writer = await open_link(target)
        try:
            writer.write(topology_question(target))
            parser, replies = Resp3Reader(), list[Any]()
            while (answer := answer_of(parser, replies)) is NEED_DATA:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed before CLUSTER NODES was answered")
                parser.feed(data)
            return nodes_in(answer, target)
        finally:
            writer.close()

    async def _repoint(self, topology: dict[tuple[str, int], str]) -> None:
        changes = topology_changes(self._known, self.links, topology)
        if changes is None:
            return
        gone, new = changes
        for node in gone:
            link, member = self.links.pop(node)
            await link.aclose()
            self.state.leave(member)
        for node, role in new:
            member = self.state.join(self._lost)
            link = AsyncCacheLink(
                self._client, self._prefix, member, metrics=self._metrics,
                logger=self._logger, node=node,
            )  # fmt: skip
            link.role = role
            self.links[node] = (link, member)
            link.ensure_started()
        self._known = dict(topology)
        self.state.reset()


class AsyncCachingTransport:
    """The asyncio client's transport, with checks answered from the cache when it may."""

    def __init__(
        self, inner: Any, link: AsyncCacheLink | AsyncClusterLinkGroup, metrics: CacheMetrics
    ) -> None:
        self._inner = inner
        self._link = link
        self._state = shared_state(link.state)
        self._metrics = metrics
        self.cached_checks = CachedChecks(self._state, metrics)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def round_trip(self, batch: Batch) -> Any:
        keys = cached_keys(batch)
        if keys is None:
            return await self._inner.round_trip(batch)
        self._link.ensure_started()
        state = self._state
        found = state.get(keys)
        if found is not None:
            self._metrics.hit.inc()
            return CachedReply(found)
        serving = state.serving()
        (self._metrics.miss if serving else self._metrics.bypass).inc()
        ticket = state.ticket()
        reply = await self._inner.round_trip(batch)
        if serving:
            store_reply(state, ticket, keys, reply)
        return reply

    async def aclose(self) -> None:
        await self._link.aclose()
