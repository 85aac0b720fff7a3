"""What every cluster test checks: per node, the result equals what the node holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable

from redis.crc import key_slot

from assertions import PREFIX
from cluster.cluster_fixtures import LocalCluster
from token_blacklist import BlacklistResult
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture


def owner_of(cluster: LocalCluster, hashes: Iterable[str]) -> dict[str, int]:
    """Hash -> port of the master that owns its key's slot now."""
    owners = cluster.owners()
    return {h: owners[key_slot(f"{PREFIX}:{h}".encode())] for h in hashes}


def share(cluster: LocalCluster, hashes: Iterable[str], node: RedisServer) -> set[str]:
    """The hashes whose slot ``node`` owns."""
    return {h for h, port in owner_of(cluster, hashes).items() if port == node.port}


def assert_cluster_matches(
    result: BlacklistResult,
    hashes: list[str],
    cluster: LocalCluster,
    *,
    unknown: Collection[RedisServer] = (),
) -> dict[int, set[str]]:
    """Every live node holds exactly the confirmed hashes it owns, and nothing else.

    A dead or paused node is not read: check again once it is back.

    A node in ``unknown`` lost a round trip (killed and restarted, or paused): it may
    hold more than was confirmed (applied, reply lost), never less. Returns the holdings.
    """
    distinct = set(hashes)
    confirmed = distinct - set(result.failures)
    assert result.requested == len(distinct)
    assert result.succeeded == len(confirmed)
    assert set(result.failures) <= distinct
    owners = owner_of(cluster, distinct)
    held = cluster.keys_by_node(PREFIX)
    unknown_ports = {node.port for node in unknown}
    for port, keys in held.items():
        assert keys <= distinct, f"node {port} holds keys this call did not write"
        assert all(owners[h] == port for h in keys), f"node {port} holds keys of another slot"
        mine = {h for h in confirmed if owners[h] == port}
        assert mine <= keys, f"node {port}: a token reported blacklisted is not there"
        if port not in unknown_ports:
            assert keys == mine, f"node {port} holds tokens reported as failed"
    return held


def assert_nodes_reported(
    capture: TelemetryCapture,
    cluster: LocalCluster,
    failed: Collection[RedisServer],
    involved: int | None = None,
) -> None:
    """Span attributes and the log event name the nodes of the call and the failed ones."""
    expected = sorted(f"{node.host}:{node.port}" for node in failed)
    involved = len(cluster.nodes) if involved is None else involved
    (span,) = capture.spans("token_blacklist.blacklist_tokens")
    attributes = dict(span.attributes or {})
    assert attributes["token_blacklist.nodes"] == involved
    assert list(attributes["token_blacklist.failed_nodes"]) == expected  # type: ignore[arg-type]
    (event,) = [e for e in capture.logs if e["event"].startswith("token_blacklist.")]
    assert event["nodes"] == involved
    assert event["failed_nodes"] == expected


class FaultWhenHolding:
    """Injects ``fault`` from a thread once ``node`` holds ``threshold`` keys: mid-batch."""

    def __init__(self, node: RedisServer, threshold: int, fault: Callable[[], None]) -> None:
        self.node = node
        self.threshold = threshold
        self.fault = fault
        self.fired = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> FaultWhenHolding:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        admin = LocalCluster.admin(self.node)
        try:
            while not self._stop.is_set():
                if admin.dbsize() >= self.threshold:
                    self.fault()
                    self.fired.set()
                    return
                time.sleep(0.0005)
        finally:
            admin.close()
