"""``check_cache=`` on Redis Cluster clients: one invalidation link per node, one cache.

Against real clusters, sync and asyncio alike (the asyncio client runs on a loop of its
own thread, so every test body is shared). The invariant checked is the promise: a check
that *starts* more than ``max_staleness`` after a revocation was acknowledged (by another
client, on whichever master owns the key) says blacklisted, whatever happened to a link,
a node or the topology meanwhile. Tests that pause or fail a node over get a cluster of
their own; the session cluster is only read, written and has links killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis.crc import key_slot

from assertions import random_hashes
from cluster.cluster_fixtures import LocalCluster
from token_blacklist import (
    AsyncTokenBlacklist,
    BlacklistUnavailableError,
    CheckCache,
    TokenBlacklist,
)
from token_blacklist import _cache_cluster_link as cluster_link
from token_blacklist import _cache_link_async as cluster_link_async
from token_blacklist.testing import TelemetryCapture

BOUND = 0.1
CACHE = CheckCache(max_entries=10_000, max_staleness=BOUND)
LINK_NAME = "token_blacklist-check_cache"
PREFIX = "token_blacklist"


class Cached:
    """A cached blacklist of ``cluster`` (sync, or asyncio on a loop thread of its own)."""

    def __init__(self, cluster: LocalCluster, flavour: str, **client_kwargs: Any) -> None:
        self.capture = TelemetryCapture()
        self.registry = self.capture.registry
        self._flavour = flavour
        kwargs = {"socket_timeout": 0.3, "socket_connect_timeout": 0.3, **client_kwargs}
        if flavour == "sync":
            self._client: Any = cluster.client(**kwargs)
            self._blacklist: Any = TokenBlacklist(
                self._client, **self.capture.kwargs(), check_cache=CACHE, retries=1
            )
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

        async def make() -> Any:
            self._client = cluster.async_client(**kwargs)
            return AsyncTokenBlacklist(
                self._client, **self.capture.kwargs(), check_cache=CACHE, retries=1
            )

        self._blacklist = self._run(make())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def check(self, token_hash: str) -> bool:
        if self._flavour == "sync":
            return bool(self._blacklist.is_blacklisted(token_hash))
        return bool(self._run(self._blacklist.is_blacklisted(token_hash)))

    def sample(self, result: str) -> float:
        value = self.registry.get_sample_value(
            "token_blacklist_check_cache_total", {"result": result}
        )
        return value or 0.0

    def losses(self) -> float:
        value = self.registry.get_sample_value("token_blacklist_check_cache_link_losses_total")
        return value or 0.0

    def close(self) -> None:
        if self._flavour == "sync":
            self._blacklist.close()
            self._client.close()
            return

        async def close() -> None:
            await self._blacklist.aclose()
            await self._client.aclose()

        with contextlib.suppress(Exception):
            self._run(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_cached(flavour: str) -> Iterator[Callable[..., Cached]]:
    made: list[Cached] = []

    def make(cluster: LocalCluster, **kwargs: Any) -> Cached:
        made.append(Cached(cluster, flavour, **kwargs))
        return made[-1]

    yield make
    for cached in made:
        cached.close()


@pytest.fixture
def fresh_cluster() -> Iterator[Callable[..., LocalCluster]]:
    """Clusters of the test's own (it pauses or fails nodes over), stopped after it."""
    started: list[LocalCluster] = []

    def start(**kwargs: Any) -> LocalCluster:
        started.append(LocalCluster(**kwargs).start())
        return started[-1]

    yield start
    for cluster in started:
        cluster.stop()


def hashes_by_master(cluster: LocalCluster, per_master: int = 2) -> dict[int, list[str]]:
    """Master port -> hashes whose keys that master owns (``per_master`` of each)."""
    owners = cluster.owners()
    found: dict[int, list[str]] = {port: [] for port in set(owners.values())}
    while any(len(hashes) < per_master for hashes in found.values()):
        for token_hash in random_hashes(16):
            port = owners[key_slot(f"{PREFIX}:{token_hash}".encode())]
            if len(found[port]) < per_master:
                found[port].append(token_hash)
    return found


def wait_serving(cached: Cached, token_hash: str, timeout: float = 10.0) -> None:
    """Until a check of ``token_hash`` is answered from memory (every link up and fresh)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = cached.sample("hit")
        with contextlib.suppress(BlacklistUnavailableError):
            cached.check(token_hash)
        if cached.sample("hit") > hits:
            return
        time.sleep(0.01)
    pytest.fail("the check cache never served")


def checks_after(
    cached: Cached, token_hash: str, acknowledged: float, seconds: float
) -> list[tuple[float, bool | Exception]]:
    seen: list[tuple[float, bool | Exception]] = []
    end = time.monotonic() + seconds
    # Until ``seconds`` are over and the last check started past the bound (one check held
    # up on a loaded machine must not leave the window without a check that counts).
    while time.monotonic() < end or (seen[-1][0] <= BOUND and time.monotonic() < end + 5):
        started = time.monotonic()
        try:
            answer: bool | Exception = cached.check(token_hash)
        except BlacklistUnavailableError as error:
            answer = error
        seen.append((started - acknowledged, answer))
        time.sleep(0.002)
    return seen


def assert_never_stale(seen: list[tuple[float, bool | Exception]]) -> None:
    stale = [
        (round(after, 4), answer) for after, answer in seen if after > BOUND and answer is False
    ]
    assert not stale, f"'not revoked' served {len(stale)} times past the bound: {stale[:5]}"
    assert any(after > BOUND for after, _ in seen)


def links_on(cluster: LocalCluster, port: int) -> list[dict[str, Any]]:
    node = next(n for n in cluster.nodes if n.port == port)
    clients = cluster.admin(node, decode_responses=True).client_list()
    return [c for c in clients if c.get("name") == LINK_NAME]


def wait_links(cached: Cached, cluster: LocalCluster, ports: set[int], timeout: float = 10) -> None:
    """Until every master in ``ports`` has the link (asyncio: started by the first check)."""
    deadline = time.monotonic() + timeout
    probe = random_hashes(1)[0]
    while not all(links_on(cluster, port) for port in ports):
        with contextlib.suppress(BlacklistUnavailableError):
            cached.check(probe)
        assert time.monotonic() < deadline, "no invalidation link on every master"
        time.sleep(0.02)


def writer_of(cluster: LocalCluster) -> TokenBlacklist:
    return TokenBlacklist(cluster.client(), registry=CollectorRegistry(), retries=3)


def test_hits_come_from_memory_for_keys_on_every_master(cluster, make_cached):
    cached = make_cached(cluster)
    by_master = hashes_by_master(cluster)
    revoked = {hashes[0] for hashes in by_master.values()}
    writer = writer_of(cluster)
    writer.blacklist_tokens(sorted(revoked), ttl=600)
    wait_links(cached, cluster, set(by_master))
    for port, hashes in by_master.items():
        assert len(links_on(cluster, port)) == 1, "one link per master"
        for token_hash in hashes:
            wait_serving(cached, token_hash)
            hits = cached.sample("hit")
            assert cached.check(token_hash) is (token_hash in revoked)
            assert cached.sample("hit") == hits + 1, f"no hit for a key on master {port}"
    assert cached.registry.get_sample_value("token_blacklist_check_cache_link_up") == 1.0


def test_a_revocation_on_each_master_is_seen_within_the_bound(cluster, make_cached):
    cached = make_cached(cluster)
    writer = writer_of(cluster)
    for hashes in hashes_by_master(cluster).values():
        token_hash = hashes[0]
        wait_serving(cached, token_hash)
        assert cached.check(token_hash) is False  # cached "not revoked"
        assert writer.blacklist_tokens([token_hash], ttl=600).ok
        acknowledged = time.monotonic()
        seen = checks_after(cached, token_hash, acknowledged, BOUND + 0.2)
        assert_never_stale(seen)
        assert seen[-1][1] is True


def test_one_masters_link_killed_empties_the_cache_then_it_recovers(cluster, make_cached):
    cached = make_cached(cluster)
    writer = writer_of(cluster)
    by_master = hashes_by_master(cluster)
    wait_links(cached, cluster, set(by_master))
    for hashes in by_master.values():
        wait_serving(cached, hashes[0])
    port, (victim, *_) = next(iter(by_master.items()))
    elsewhere = next(hashes[0] for p, hashes in by_master.items() if p != port)
    lost = cached.losses()
    node = next(n for n in cluster.nodes if n.port == port)
    for link in links_on(cluster, port):
        cluster.admin(node).execute_command("CLIENT", "KILL", "ID", link["id"])
    assert writer.blacklist_tokens([victim], ttl=600).ok  # its invalidation may be lost
    acknowledged = time.monotonic()
    bypassed = cached.sample("bypass")
    assert_never_stale(checks_after(cached, victim, acknowledged, 0.4))
    deadline = time.monotonic() + 5
    while cached.losses() == lost:
        assert time.monotonic() < deadline, "the killed link was not noticed"
        time.sleep(0.01)
    # The whole cache was emptied, not only that master's keys: the others went to Redis.
    hits = cached.sample("hit")
    cached.check(elsewhere)
    assert cached.sample("hit") == hits or cached.sample("bypass") > bypassed
    wait_serving(cached, elsewhere)  # linked again
    wait_serving(cached, victim)
    assert cached.check(victim) is True


@pytest.mark.slow
def test_a_paused_master_stops_every_answer_from_memory(fresh_cluster, make_cached):
    cluster = fresh_cluster()
    cached = make_cached(cluster)
    by_master = hashes_by_master(cluster)
    writer = writer_of(cluster)
    wait_links(cached, cluster, set(by_master))
    for hashes in by_master.values():
        wait_serving(cached, hashes[0])
    paused_port, others = next(iter(by_master)), list(by_master)[1:]
    live = [by_master[port][0] for port in others]
    node = next(n for n in cluster.nodes if n.port == paused_port)
    node.pause()  # SIGSTOP: that link's heartbeat goes unanswered
    paused = time.monotonic()
    try:
        seen = checks_after(cached, by_master[paused_port][0], paused, 0.6)
        late_hits = cached.sample("hit")
        # Keys on the live masters: from Redis too (the cache is not known fresh), and right.
        assert writer.blacklist_tokens(live[:1], ttl=600).ok
        for _ in range(5):  # a miss, and then would be a hit if the cache served
            for token_hash in live:
                assert cached.check(token_hash) is (token_hash == live[0])
            time.sleep(0.02)
        assert cached.sample("hit") == late_hits, "answered from memory with a master paused"
    finally:
        node.resume()
    late = [answer for after, answer in seen if after > BOUND]
    assert late and all(isinstance(answer, BlacklistUnavailableError) for answer in late)
    assert cached.sample("bypass") >= len(late)
    for token_hash in live:
        wait_serving(cached, token_hash)
    assert cached.check(live[0]) is True


@pytest.mark.slow
def test_a_failover_empties_the_cache_and_never_serves_stale(fresh_cluster, make_cached):
    cluster = fresh_cluster(replicas=1)  # nodes[3] replicates nodes[0]
    master, replica = cluster.nodes[0], cluster.nodes[3]
    cached = make_cached(cluster)
    by_master = hashes_by_master(cluster)
    writer = writer_of(cluster)
    wait_links(cached, cluster, {node.port for node in cluster.nodes})  # the replica's too
    for hashes in by_master.values():
        for token_hash in hashes:
            wait_serving(cached, token_hash)  # cached "not revoked", on every master
    moved = by_master[master.port]
    lost = cached.losses()
    seen: list[tuple[float, bool | Exception]] = []
    stop = threading.Event()

    def keep_checking() -> None:  # before, during and after: refills from the new master
        while not stop.is_set():
            for token_hash in moved:
                started = time.monotonic()
                try:
                    answer: bool | Exception = cached.check(token_hash)
                except BlacklistUnavailableError as error:
                    answer = error
                seen.append((started, answer))
            time.sleep(0.002)

    checker = threading.Thread(target=keep_checking)
    checker.start()
    try:
        cluster.admin(replica).execute_command("CLUSTER", "FAILOVER")
        deadline = time.monotonic() + 15
        while cluster.admin(replica).info("replication")["role"] != "master":
            assert time.monotonic() < deadline, "no failover"
            time.sleep(0.01)
        time.sleep(0.2)  # checks refill from the new master meanwhile
        while not writer.blacklist_tokens(moved, ttl=600).ok:  # on the new master
            assert time.monotonic() < deadline
            time.sleep(0.02)
        acknowledged = time.monotonic()
        time.sleep(0.5)
    finally:
        stop.set()
        checker.join()
    assert_never_stale([(started - acknowledged, answer) for started, answer in seen])
    assert cached.losses() > lost  # the two roles changed: their links lost, cache emptied
    wait_links(cached, cluster, {node.port for node in cluster.nodes})  # re-pointed
    for node in cluster.nodes:  # one link a node: the demoted master's kept, as a replica's
        assert len(links_on(cluster, node.port)) == 1, node.port
    for token_hash in moved:
        wait_serving(cached, token_hash)
        assert cached.check(token_hash) is True
    other = by_master[cluster.nodes[1].port][0]
    wait_serving(cached, other)
    assert cached.check(other) is False


@pytest.mark.slow
def test_a_node_that_joins_and_takes_a_slot_is_linked_before_it_takes_writes(
    fresh_cluster, make_cached, monkeypatch
):
    """A node met and handed a slot (``add-node``, then a reshard): a revocation written on
    it must reach the cache within the bound, however late the supervisor's own next
    ``CLUSTER NODES`` comes (made a minute here, so only the links can notice). The links'
    heartbeat (``CLUSTER INFO``) sees the node count change on the node that met it, which
    empties the cache and re-points the links at once. (A real newcomer refuses writes for
    a while, Redis's rejoin delay, from 0.5 s to the node timeout: shorter than the
    supervisor's second only with a node timeout under a second.)"""
    for module in (cluster_link, cluster_link_async):
        monkeypatch.setattr(module, "CLUSTER_RECHECK", 60.0)
    cluster = fresh_cluster(masters=2)
    cached = make_cached(cluster)
    by_master = hashes_by_master(cluster, per_master=1)
    wait_links(cached, cluster, set(by_master))
    owner_port, (victim,) = next(iter(by_master.items()))
    wait_serving(cached, victim)
    assert cached.check(victim) is False  # "not revoked", from memory
    newcomer = cluster.add_node()
    source = next(node for node in cluster.nodes if node.port == owner_port)
    cluster.move_empty_slot(key_slot(f"{PREFIX}:{victim}".encode()), source, newcomer)
    writer, deadline = writer_of(cluster), time.monotonic() + 20
    while not writer.blacklist_tokens([victim], ttl=600).ok:  # CLUSTERDOWN: its rejoin delay
        assert time.monotonic() < deadline, "the newcomer never took the write"
        time.sleep(0.01)
    acknowledged = time.monotonic()
    assert cluster.admin(newcomer).exists(f"{PREFIX}:{victim}") == 1  # written on the newcomer
    seen = checks_after(cached, victim, acknowledged, 1.5)
    assert_never_stale(seen)
    wait_links(cached, cluster, {node.port for node in cluster.nodes})  # the newcomer's too
    wait_serving(cached, victim)
    assert cached.check(victim) is True


def test_closing_stops_every_masters_link(cluster, flavour):
    by_master = hashes_by_master(cluster, per_master=1)
    cached = Cached(cluster, flavour)
    try:
        wait_links(cached, cluster, set(by_master))
    finally:
        cached.close()
    deadline = time.monotonic() + 5
    while any(links_on(cluster, port) for port in by_master):
        assert time.monotonic() < deadline, "a link outlived close()"
        time.sleep(0.02)
