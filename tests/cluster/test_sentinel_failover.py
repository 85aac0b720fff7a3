"""Sentinel, sync and async: a failover in the middle of a batch.

Every token ends either on the new primary (and on every server once they are in sync) or
reported failed; nothing acknowledged by the deposed primary alone counts as succeeded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from assertions import (
    PREFIX,
    assert_matches_redis,
    assert_telemetry_matches,
    error_count,
    held,
    random_hashes,
)
from cluster.sentinel_fixtures import SERVICE, SentinelSet
from conftest import Harness
from token_blacklist import FailureReason, TokenBlacklist
from token_blacklist._core.commands import subject_key
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

RIDE_THROUGH = {"retries": 6, "retry_backoff": 0.05}  # about 3 s of re-sends per chunk


@pytest.fixture(params=["sync", "async"])
def sentinel_harness(request: pytest.FixtureRequest, capture: TelemetryCapture) -> Harness:
    return Harness(request.param, capture)


class FailoverWhenHolding:
    """Once the primary holds ``threshold`` keys: ``SENTINEL FAILOVER``; once Sentinel names
    the new primary, demote the old one (Sentinel itself does that about 10 s later)."""

    def __init__(self, sentinels: SentinelSet, threshold: int) -> None:
        self.sentinels = sentinels
        self.old = sentinels.primary()
        self.threshold = threshold
        self.new: RedisServer | None = None
        self.timeline: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FailoverWhenHolding:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=15)

    def _mark(self, event: str) -> None:
        self.timeline[event] = round(time.monotonic() - self._started, 3)

    def _run(self) -> None:
        old_admin = self.old.client(socket_timeout=2)
        while old_admin.dbsize() < self.threshold:
            time.sleep(0.001)
        self._mark("failover")
        self.sentinels.failover()
        promoted = self._wait(self._promoted)
        self._mark("promoted")
        # Demote the old primary at once (Sentinel waits about 10 s): clients still on
        # it, and those Sentinel sends there until it switches, now meet READONLY.
        old_admin.replicaof(promoted.host, promoted.port)
        self._mark("demoted")
        self.new = self._wait(self._switched)
        self._mark("switched")
        old_admin.close()

    def _promoted(self) -> RedisServer | None:
        for server in self.sentinels.servers:
            role = server.client(socket_timeout=2).info("replication")["role"]
            if server is not self.old and role == "master":
                return server
        return None

    def _switched(self) -> RedisServer | None:
        current = self.sentinels.primary()
        return None if current is self.old else current

    @staticmethod
    def _wait(found: Callable[[], RedisServer | None]) -> RedisServer:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                server = found()
            except (redis.RedisError, OSError):  # Sentinel kills clients as it reconfigures
                server = None
            if server is not None:
                return server
            time.sleep(0.005)
        raise AssertionError("the failover did not complete")


def wait_healthy_replicas(sentinels: SentinelSet, count: int, timeout: float = 10) -> None:
    """Until Sentinel counts ``count`` replicas that are not subjectively down."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replicas = sentinels.admin_sentinel().sentinel_slaves(SERVICE)
        if sum(not r["is_sdown"] for r in replicas) == count:
            return
        time.sleep(0.05)
    raise AssertionError("Sentinel did not mark the replica down")


def wait_in_sync(servers: list[RedisServer], primary: RedisServer, timeout: float = 10) -> None:
    """Until every replica has the primary's whole replication stream."""
    deadline = time.monotonic() + timeout
    admin = primary.client()
    while time.monotonic() < deadline:
        offset = admin.info("replication")["master_repl_offset"]
        replicas = [s for s in servers if s is not primary]
        offsets = [s.client().info("replication").get("slave_repl_offset", -1) for s in replicas]
        if all(o == offset for o in offsets):
            return
        time.sleep(0.02)
    raise AssertionError("replicas did not catch up")


def test_failover_mid_batch_loses_nothing_reported_succeeded(
    sentinel_set: SentinelSet, sentinel_harness: Harness
):
    hashes = random_hashes(12_000)
    started = time.monotonic()
    with FailoverWhenHolding(sentinel_set, 1000) as failover:
        result = sentinel_harness.blacklist(
            sentinel_set,
            hashes,
            chunk_size=5,
            client_kwargs={"socket_timeout": 1.0},
            **RIDE_THROUGH,
        )
    elapsed = time.monotonic() - started
    assert failover.new is not None, f"no failover during the batch: {failover.timeline}"
    assert failover.timeline["switched"] < elapsed, f"the batch ended first: {failover.timeline}"

    new = failover.new
    readonly = error_count(failover.old.client(), "READONLY")
    assert readonly > 0, "the batch met the demoted primary's READONLY"
    assert result.round_trips > result.chunks, "and re-sent what it refused"
    wait_in_sync(sentinel_set.servers, new)
    # Re-sends rode through the failover within the retry budget.
    assert result.ok, (result, failover.timeline)
    assert_matches_redis(result, hashes, new.client())
    for server in sentinel_set.servers:  # the count on every server, old primary included
        assert held(server.client(), hashes) == set(hashes)
    assert_telemetry_matches(sentinel_harness.capture, result)
    assert set(result.reasons) <= {FailureReason.UNAVAILABLE, FailureReason.CONNECTION}
    # The span names both primaries, the deposed one as failed.
    [span] = sentinel_harness.capture.spans("token_blacklist.blacklist_tokens")
    old_address, new_address = (f"{s.host}:{s.port}" for s in (failover.old, new))
    assert span.attributes["token_blacklist.nodes"] == 2
    assert list(span.attributes["token_blacklist.failed_nodes"]) == [old_address]
    assert new_address not in span.attributes["token_blacklist.failed_nodes"]


def test_a_dead_replica_costs_confirmations_until_sentinel_marks_it_down(
    sentinel_set: SentinelSet, sentinel_harness: Harness
):
    """The documented price: applied on the primary but reported ``unavailable`` while a
    replica Sentinel still counts cannot confirm; normal again once Sentinel drops it."""
    primary = sentinel_set.primary()
    replica = next(s for s in sentinel_set.servers if s is not primary)
    replica.kill()
    first = random_hashes(200)
    result = sentinel_harness.blacklist(
        sentinel_set, first, chunk_size=50, retries=0, client_kwargs={"socket_timeout": 1.0}
    )
    assert result.succeeded == 0
    assert set(result.reasons) == {FailureReason.UNAVAILABLE}
    # The safe direction: never fewer. The first chunk was applied on the primary but not
    # confirmed; its retries spent (none here), the primary is down for the rest of the
    # call (issue 13, item 3), so the other chunks were not sent at all.
    assert held(primary.client(), first) == set(first[:50])
    assert result.round_trips == 1
    [span] = sentinel_harness.capture.spans("token_blacklist.blacklist_tokens")
    assert span.attributes["token_blacklist.nodes"] == 1
    assert list(span.attributes["token_blacklist.failed_nodes"]) == [
        f"{primary.host}:{primary.port}"
    ]
    [event] = sentinel_harness.capture.events("token_blacklist.failure")
    assert event["failed_nodes"] == [f"{primary.host}:{primary.port}"]

    wait_healthy_replicas(sentinel_set, 1)
    sentinel_harness.capture.clear()
    second = random_hashes(200)
    result = sentinel_harness.blacklist(
        sentinel_set, second, chunk_size=50, retries=0, client_kwargs={"socket_timeout": 1.0}
    )
    assert result.ok
    assert_matches_redis(result, second, primary.client())


def test_log_out_everywhere_is_confirmed_by_the_replicas_too(
    sentinel_set: SentinelSet, capture: TelemetryCapture
):
    primary = sentinel_set.primary()
    replicas = [s for s in sentinel_set.servers if s is not primary]
    client = sentinel_set.client(socket_timeout=1.0)
    try:
        blacklist = TokenBlacklist(client, retries=0, **capture.kwargs())
        # On a loaded 2-core machine a just-started replica can miss one 100 ms WAIT (seen
        # about one run in five, before and after the layout change): the premise here is
        # only that a healthy set confirms, so this first call may re-send.
        patient = TokenBlacklist(client, retries=3, retry_backoff=0.2, **capture.kwargs())
        assert patient.revoke_all("user-7", 3600).ok
        wait_in_sync(sentinel_set.servers, primary)
        key = subject_key(f"{PREFIX}:", "user-7")
        assert all(server.client().exists(key) for server in sentinel_set.servers)

        replicas[0].kill()  # Sentinel still counts it for a while: not confirmed
        result = blacklist.revoke_all("user-8", 3600)
        assert not result.ok and result.reason is FailureReason.UNAVAILABLE
    finally:
        client.close()
