"""A real 3-master Redis Cluster on loopback, started once per test session.

Reusable outside tests/cluster (the CLI's ``doctor`` tests use it): the root conftest
registers this module as a plugin, so the ``redis_cluster`` (session) and ``cluster``
(per test: repaired and flushed) fixtures exist everywhere, with one cluster per session.

Nodes are :class:`token_blacklist.server.RedisServer` processes with ``cluster-enabled yes``;
slots are assigned with ``CLUSTER ADDSLOTSRANGE`` and the nodes joined with ``CLUSTER MEET``
(no ``redis-cli --cluster create`` and its fixed waits). ``cluster-require-full-coverage no``
keeps the healthy masters serving their slots while one master is down, the setting under
which per-node accounting is observable; ``cluster-node-timeout`` is short so that repairs
converge fast. A killed master comes back on the same port with its ``nodes.conf``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio.cluster
import redis.cluster

from token_blacklist.server import RedisServer, describe_binary, find_redis_server, free_port

__all__ = ["LocalCluster", "cluster", "redis_cluster"]

SLOTS = 16384
NODE_TIMEOUT_MS = 5000


def _slot_ranges(masters: int) -> list[tuple[int, int]]:
    step = SLOTS // masters
    return [
        (i * step, SLOTS - 1 if i == masters - 1 else (i + 1) * step - 1) for i in range(masters)
    ]


def own_bus_port() -> bool:
    """Redis 7.0 (and Valkey) take ``cluster-port``; 6.2's bus is always the port + 10000.
    Asked when a node starts: ``--redis-server`` is read after this plugin is imported."""
    return describe_binary(find_redis_server()).version >= (7, 0)


def _node_port() -> int:
    """A free port; on 6.2 one whose bus port (+ 10000) is free and below the ephemeral range."""
    if own_bus_port():
        return free_port()
    for _ in range(500):
        port = free_port()
        if port + 10000 < 32768:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair for a Redis 6.2 cluster node")


class LocalCluster:
    """Masters (and optionally replicas), each a private redis-server in cluster mode.

    ``nodes`` lists the masters first; replica ``i`` (after them) replicates master ``i``.
    """

    def __init__(
        self, masters: int = 3, config: dict[str, Any] | None = None, *, replicas: int = 0
    ) -> None:
        self.nodes: list[RedisServer] = []
        self._masters = masters
        self._replicas = replicas
        self._config = config or {}

    # -- life cycle -------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> LocalCluster:
        for _ in range(self._masters + self._replicas):
            self.nodes.append(self._start_node())
        for index, (node, (low, high)) in enumerate(
            zip(self.nodes, _slot_ranges(self._masters), strict=False)
        ):
            admin = self.admin(node)
            if own_bus_port():
                admin.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
            else:  # Redis 6.2: no ADDSLOTSRANGE
                admin.execute_command("CLUSTER", "ADDSLOTS", *range(low, high + 1))
            admin.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        first = self.admin(self.nodes[0])
        for node in self.nodes[1:]:
            bus_port = node.config.get("cluster-port", node.port + 10000)
            first.execute_command("CLUSTER", "MEET", node.host, node.port, bus_port)
        for index in range(self._replicas):
            self._replicate(self.nodes[self._masters + index], self.nodes[index], timeout)
        self.wait_healthy(timeout)
        return self

    def _replicate(self, replica: RedisServer, master: RedisServer, timeout: float) -> None:
        master_id = self.node_id(master)
        deadline = time.monotonic() + timeout
        while True:  # the replica must have heard of the master through gossip first
            try:
                self.admin(replica).execute_command("CLUSTER", "REPLICATE", master_id)
                break
            except redis.ResponseError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        while self.admin(replica).info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise RuntimeError("replica did not sync")
            time.sleep(0.02)

    def _start_node(self) -> RedisServer:
        last: Exception | None = None
        for _ in range(5):  # a free port can be taken between the probe and the bind
            config = {
                "cluster-enabled": "yes",
                "cluster-config-file": "nodes.conf",
                "cluster-node-timeout": NODE_TIMEOUT_MS,
                "cluster-require-full-coverage": "no",
                # A killed master restarts with what it had acknowledged (SIGKILL keeps
                # the page cache): tests can compare a node's share after its crash.
                "appendonly": "yes",
                "repl-diskless-sync-delay": 0,  # replicas sync at once, not after 5 s
                "appendfsync": "no",
                **self._config,
            }
            if own_bus_port():
                config["cluster-port"] = free_port()
            try:
                return RedisServer(config, port=_node_port()).start()
            except RuntimeError as error:
                last = error
        raise RuntimeError(f"cluster node did not start: {last}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def add_node(self) -> RedisServer:
        """A new empty master, met by the first node (returns at once: the handshake and
        the gossip that spreads it go on meanwhile), as ``redis-cli --cluster add-node``."""
        node = self._start_node()
        self.nodes.append(node)
        bus_port = node.config.get("cluster-port", node.port + 10000)
        self.admin(self.nodes[0]).execute_command("CLUSTER", "MEET", node.host, node.port, bus_port)
        return node

    def move_empty_slot(self, slot: int, source: RedisServer, target: RedisServer) -> None:
        """Hand ``slot`` (no key in it yet) from ``source`` to ``target``, as a reshard does:
        IMPORTING, MIGRATING, then NODE on both; retried while gossip has not yet told one
        node of the other."""
        source_id, target_id = self.node_id(source), self.node_id(target)
        steps = [
            (target, ("IMPORTING", source_id)),
            (source, ("MIGRATING", target_id)),
            (target, ("NODE", target_id)),
            (source, ("NODE", target_id)),
        ]
        deadline = time.monotonic() + 10
        for node, args in steps:
            while True:
                try:
                    self.admin(node).execute_command("CLUSTER", "SETSLOT", slot, *args)
                    break
                except redis.ResponseError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.005)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- health -----------------------------------------------------------------------------
    @staticmethod
    def admin(node: RedisServer, **kwargs: Any) -> redis.Redis:
        """A plain (non-cluster) client of one node, for administration and inspection."""
        return node.client(socket_timeout=2, **kwargs)

    def _node_ok(self, node: RedisServer) -> bool:
        try:
            admin = self.admin(node, decode_responses=True)
            info = admin.execute_command("CLUSTER", "INFO")
            text = info if isinstance(info, str) else str(info)
            nodes = admin.execute_command("CLUSTER", "NODES")
        except (redis.RedisError, OSError):
            return False
        listing = nodes if isinstance(nodes, str) else str(nodes)
        lines = [line for line in listing.splitlines() if line.strip()]
        return (
            "cluster_state:ok" in text
            and f"cluster_known_nodes:{len(self.nodes)}" in text
            and len(lines) == len(self.nodes)
            and all(" connected" in line for line in lines)
            and not any("fail" in line.split()[2] for line in lines)
            and sum(self._slots_of(line) for line in lines) == SLOTS
        )

    @staticmethod
    def _slots_of(line: str) -> int:
        count = 0
        for field in line.split()[8:]:
            if field.startswith("["):  # a migrating/importing marker, not an owned range
                continue
            low, _, high = field.partition("-")
            count += int(high or low) - int(low) + 1
        return count

    def wait_healthy(self, timeout: float = 20.0) -> None:
        """Until every node reports state ok, knows every other and sees all slots owned."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(node.running and self._node_ok(node) for node in self.nodes):
                return
            time.sleep(0.05)
        raise RuntimeError(f"cluster not healthy after {timeout}s: {self.describe()}")

    def describe(self) -> str:
        parts = []
        for node in self.nodes:
            try:
                nodes = self.admin(node, decode_responses=True).execute_command("CLUSTER", "NODES")
                parts.append(f"{node.port}: {nodes!r}")
            except (redis.RedisError, OSError) as error:
                parts.append(f"{node.port}: {type(error).__name__}")
        return "; ".join(parts)

    def repair(self) -> None:
        """Undo what a test did: resume paused nodes, restart killed ones, drop open slot
        migrations, wait until healthy, then empty every node."""
        for node in self.nodes:
            if node._paused:
                node.resume()
            if not node.running:
                node.start()  # same port and directory: it rejoins with its nodes.conf
        self._clear_migrations()
        self.wait_healthy(30.0)
        self.flush()

    def _clear_migrations(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(redis.RedisError, OSError):
                listing = self.admin(node, decode_responses=True).execute_command(
                    "CLUSTER", "NODES"
                )
                for line in str(listing).splitlines():
                    if "myself" not in line:
                        continue
                    for field in line.split()[8:]:
                        if field.startswith("["):
                            slot = int(field[1:].split("-", 1)[0])
                            self.admin(node).execute_command("CLUSTER", "SETSLOT", slot, "STABLE")

    def restart(self, node: RedisServer) -> None:
        """Start a killed node on its port with its ``nodes.conf`` and data; wait until healthy."""
        node.start()
        self.wait_healthy(30.0)

    def owners(self) -> dict[int, int]:
        """Slot -> port of the master that owns it now, asked of a live node."""
        for node in self.nodes:
            if not node.running or node._paused:
                continue
            with contextlib.suppress(redis.RedisError, OSError):
                owners: dict[int, int] = {}
                for low, high, primary, *_ in self.admin(node).execute_command("CLUSTER", "SLOTS"):
                    owners.update(dict.fromkeys(range(low, high + 1), int(primary[1])))
                return owners
        raise LookupError("no live node answers CLUSTER SLOTS")

    def flush(self) -> None:
        for node in self.nodes:
            self.admin(node).flushall()

    # -- clients and inspection -------------------------------------------------------------
    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(node.host, node.port) for node in self.nodes]

    def client(self, **kwargs: Any) -> redis.cluster.RedisCluster:
        """A sync cluster client that knows every node as a start-up node."""
        startup = [redis.cluster.ClusterNode(h, p) for h, p in self.addresses]
        return redis.cluster.RedisCluster(startup_nodes=startup, **kwargs)

    def async_client(self, **kwargs: Any) -> redis.asyncio.cluster.RedisCluster:
        """An asyncio cluster client (initialised lazily, on its first command)."""
        startup = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in self.addresses]
        return redis.asyncio.cluster.RedisCluster(startup_nodes=startup, **kwargs)

    def node_for_slot(self, slot: int) -> RedisServer:
        """The node that owns ``slot`` now, asked of a live node."""
        for node in self.nodes:
            if not node.running or node._paused:
                continue
            with contextlib.suppress(redis.RedisError, OSError):
                for low, high, primary, *_ in self.admin(node).execute_command("CLUSTER", "SLOTS"):
                    if low <= slot <= high:
                        port = int(primary[1])
                        return next(n for n in self.nodes if n.port == port)
        raise LookupError(f"no live node knows slot {slot}")

    def node_id(self, node: RedisServer) -> str:
        value = self.admin(node, decode_responses=True).execute_command("CLUSTER", "MYID")
        return str(value)

    def keys_by_node(self, prefix: str) -> dict[int, set[str]]:
        """Port -> the hashes (key without ``prefix:``) each live master holds."""
        held: dict[int, set[str]] = {}
        for node in self.nodes:
            if not node.running or node._paused:
                continue
            admin = self.admin(node, decode_responses=True)
            if admin.info("replication")["role"] != "master":
                continue  # a replica's copies are its master's keys
            keys = admin.keys(f"{prefix}:*")
            held[node.port] = {str(k)[len(prefix) + 1 :] for k in keys}  # type: ignore[union-attr]
        return held

    def held(self, hashes: Iterable[str], prefix: str) -> set[str]:
        """The hashes among ``hashes`` whose key some live node holds now."""
        wanted = set(hashes)
        found: set[str] = set()
        for keys in self.keys_by_node(prefix).values():
            found |= keys & wanted
        return found


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """One 3-master cluster for the whole session; use ``cluster`` in tests."""
    with LocalCluster() as started:
        yield started


@pytest.fixture
def cluster(redis_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The session cluster, healthy and empty at the start of the test; repaired after."""
    redis_cluster.repair()
    yield redis_cluster
    redis_cluster.repair()
