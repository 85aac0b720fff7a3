"""Interrupts at random moments never poison a pooled connection (issue 13, item 1).

A user limited by an ACL key pattern to hashes starting 0-7 makes every correct answer
known in advance (about half the writes are refused NOPERM), so a reply left on a pooled
connection by an interrupted call and read by the next one shows as a wrong count, a
revoked hash checked False, or an unrevoked one checked True. Every transport: the fast
path and redis-py pipelines (``fast_path=False``), sync and asyncio, with
``blacklist_tokens``, ``blacklisted``, ``is_blacklisted`` (with a subject) and
``revoke_all`` interrupted in turn.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from assertions import PREFIX, held
from interrupts import Expectation, async_rounds, sync_rounds
from token_blacklist import AsyncTokenBlacklist, TokenBlacklist
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

ROUNDS = int(os.environ.get("TOKEN_BLACKLIST_INTERRUPT_ROUNDS", "120"))
USER = ("app", "app-pw")
APP = (
    f"{USER[0]} on >{USER[1]} resetchannels ~{PREFIX}:[0-7]* ~{PREFIX}:nbf:* "
    "+@connection +ping +set +expire +exists +eval +zadd +zscore"
)


def allowed(token_hash: str) -> bool:
    return token_hash[0] in "01234567"


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer({"user": ["default on nopass ~* &* +@all", APP]}) as started:
        yield started


@pytest.fixture
def expect(server: RedisServer) -> Iterator[Expectation]:
    admin = server.client()
    yield Expectation(allowed, lambda hashes: held(admin, hashes), readable="3")
    admin.close()


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "pipeline"])
def test_sync_calls_interrupted_by_signals(
    server: RedisServer, expect: Expectation, fast_path: bool
) -> None:
    client = server.client(username=USER[0], password=USER[1])
    blacklist = TokenBlacklist(client, PREFIX, fast_path=fast_path, **TelemetryCapture().kwargs())
    tally = sync_rounds(blacklist, expect, ROUNDS, seed=13 + fast_path)
    client.close()
    # Not a timed assertion: the rounds must have exercised both outcomes at all.
    assert tally.interrupted > 0 and tally.follow_ups == ROUNDS, tally


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "pipeline"])
def test_async_calls_cancelled(server: RedisServer, expect: Expectation, fast_path: bool) -> None:
    async def run() -> Any:
        client = server.async_client(username=USER[0], password=USER[1])
        blacklist = AsyncTokenBlacklist(
            client, PREFIX, fast_path=fast_path, **TelemetryCapture().kwargs()
        )
        try:
            return await async_rounds(blacklist, expect, ROUNDS, seed=31 + fast_path)
        finally:
            await client.aclose()

    tally = asyncio.run(run())
    assert tally.interrupted > 0 and tally.follow_ups == ROUNDS, tally


def test_the_library_hands_redis_py_bytes_only(server: RedisServer) -> None:
    """hiredis' pack_command crashes the process when converting an argument fails (see
    scripts/hiredis_pack_command_sigsegv.py); every argument the library builds is bytes
    (the name, a str, is encoded by redis-py before hiredis sees it)."""
    from token_blacklist._core import commands as c

    batches = [
        c.SetTokens(["k:1"], [60]),
        c.ExtendTokens(["k:1"], [60]),
        c.ExistsTokens(["k:1"]),
        c.SetNotBefore("k:nbf:1", 1, 2),
        c.CheckTokenAndSubject("k:1", "k:nbf:1"),
    ]
    for batch in batches:
        for command in [*batch.args(), c.wait_command(1, 100)]:
            name, *rest = command
            assert type(name) is str and all(type(arg) is bytes for arg in rest), command
    assert redis.Redis  # the client the arguments go to
