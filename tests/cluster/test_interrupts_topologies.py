"""Interrupts at random moments never poison a pooled connection on a Redis Cluster or
behind Sentinel either (issue 13, item 1): see tests/test_interrupts.py. Every write is
allowed here, so a stray reply shows as a hash never revoked checked blacklisted, a
revoked one checked not blacklisted, or a count Redis does not match."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from assertions import PREFIX
from cluster.cluster_fixtures import LocalCluster
from cluster.sentinel_fixtures import SentinelSet
from interrupts import Expectation, async_rounds, sync_rounds
from token_blacklist import AsyncTokenBlacklist, TokenBlacklist
from token_blacklist.testing import TelemetryCapture

ROUNDS = int(os.environ.get("TOKEN_BLACKLIST_INTERRUPT_ROUNDS", "60"))


# A replica may miss a chunk's 100 ms WAIT on a loaded machine (the chunk is then reported
# unavailable, truthfully): enough re-sends that the follow-ups' answers are known.
PATIENT = {"retries": 6, "retry_backoff": 0.1}


def topology(request: pytest.FixtureRequest, name: str) -> tuple[Any, Expectation]:
    if name == "cluster":
        cluster: LocalCluster = request.getfixturevalue("cluster")
        return cluster, Expectation(held=lambda hashes: cluster.held(hashes, PREFIX))
    sentinels: SentinelSet = request.getfixturevalue("sentinel_set")
    return sentinels, Expectation()


@pytest.mark.parametrize("name", ["cluster", "sentinel"])
def test_sync_calls_interrupted_by_signals(request: pytest.FixtureRequest, name: str) -> None:
    where, expect = topology(request, name)
    client = where.client()
    blacklist = TokenBlacklist(client, PREFIX, **PATIENT, **TelemetryCapture().kwargs())
    tally = sync_rounds(blacklist, expect, ROUNDS, seed=7)
    client.close()
    assert tally.interrupted > 0 and tally.follow_ups == ROUNDS, tally


@pytest.mark.parametrize("name", ["cluster", "sentinel"])
def test_async_calls_cancelled(request: pytest.FixtureRequest, name: str) -> None:
    where, expect = topology(request, name)

    async def run() -> Any:
        client = where.async_client()
        blacklist = AsyncTokenBlacklist(client, PREFIX, **PATIENT, **TelemetryCapture().kwargs())
        try:
            return await async_rounds(blacklist, expect, ROUNDS, seed=11)
        finally:
            await client.aclose()

    tally = asyncio.run(run())
    assert tally.interrupted > 0 and tally.follow_ups == ROUNDS, tally
