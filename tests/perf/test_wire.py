"""The wire transport: exact framing, every reply read, and a pool that never desyncs."""

from __future__ import annotations

import asyncio
from typing import Any

import hiredis
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import PREFIX, assert_matches_redis, random_hashes
from conftest import PARTIAL_USER
from token_blacklist import FailureReason, TokenBlacklist
from token_blacklist._async.wire import AsyncWireTransport
from token_blacklist._compat import HIREDIS
from token_blacklist._core.commands import CheckTokenAndSubject, SetTokens, pack_exists, pack_sets
from token_blacklist._sync.wire import WireTransport
from token_blacklist.server import RedisServer


def pack_exists_and_not_before(token_key: str, subject_key: str) -> bytes:
    return CheckTokenAndSubject(token_key, subject_key).packed()


def parse(buffer: bytes) -> list[Any]:
    reader = hiredis.Reader()
    reader.feed(buffer)
    commands = []
    while (command := reader.gets()) is not False:
        commands.append(command)
    return commands


def test_pack_sets_frames_every_command() -> None:
    keys = ["p:aaaaaaaa", "p:bbbbbbbbbbbb", "p:ключ"]  # the last one is not ASCII
    assert parse(pack_sets(keys, [60, 60, 60])) == [
        [b"SET", k.encode(), b"1", b"EX", b"60", b"NX"] for k in keys
    ]
    assert parse(pack_sets(keys[:2], [5, 86400])) == [
        [b"SET", b"p:aaaaaaaa", b"1", b"EX", b"5", b"NX"],
        [b"SET", b"p:bbbbbbbbbbbb", b"1", b"EX", b"86400", b"NX"],
    ]
    assert parse(pack_exists(keys)) == [[b"EXISTS", k.encode()] for k in keys]


def test_pack_subject_check_frames_both_commands() -> None:
    assert parse(pack_exists_and_not_before("p:aaaaaaaa", "p:nbf:ключ")) == [
        [b"EXISTS", b"p:aaaaaaaa"],
        [b"ZSCORE", "p:nbf:ключ".encode(), b"nbf"],
    ]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "str"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_subject_check_on_the_fast_path_reads_every_reply_shape(
    redis_server: RedisServer, protocol: int, decode: bool, mode: str
) -> None:
    """ZSCORE comes back as bytes, str or a float (RESP3) straight from hiredis: the
    not-before is honoured the same way in each, and the token's own key still counts."""
    subject = f"user-{protocol}-{decode}-{mode}"
    own, other = random_hashes(2)
    options = {"protocol": protocol, "decode_responses": decode}

    async def run_async() -> list[bool]:
        from token_blacklist import AsyncTokenBlacklist

        client = redis_server.async_client(**options)
        blacklist = AsyncTokenBlacklist(client)
        assert isinstance(blacklist._transport, AsyncWireTransport)
        result = await blacklist.revoke_all(subject, 600, clock_skew=0)
        assert (await blacklist.blacklist_tokens([own], 600)).ok
        answers = [
            await blacklist.is_blacklisted(other, subject=subject, issued_at=result.not_before - 5),
            await blacklist.is_blacklisted(other, subject=subject, issued_at=result.not_before),
            await blacklist.is_blacklisted(own, subject=subject, issued_at=result.not_before + 5),
            await blacklist.is_blacklisted(other, subject="nobody", issued_at=0),
        ]
        await client.aclose()
        return answers

    if mode == "sync":
        client = redis_server.client(**options)
        blacklist = TokenBlacklist(client)
        assert isinstance(blacklist._transport, WireTransport)
        result = blacklist.revoke_all(subject, 600, clock_skew=0)
        assert blacklist.blacklist_tokens([own], 600).ok
        answers = [
            blacklist.is_blacklisted(other, subject=subject, issued_at=result.not_before - 5),
            blacklist.is_blacklisted(other, subject=subject, issued_at=result.not_before),
            blacklist.is_blacklisted(own, subject=subject, issued_at=result.not_before + 5),
            blacklist.is_blacklisted(other, subject="nobody", issued_at=0),
        ]
        client.close()
    else:
        answers = asyncio.run(run_async())
    # issued before the not-before: revoked; at or after it: not; own key: revoked; a
    # subject never revoked: not.
    assert answers == [True, False, True, False]


def test_timeout_mid_chunk_leaves_no_stale_reply_in_the_pool(make_server: Any) -> None:
    server = make_server()
    client = server.client(socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
    client.ping()
    transport = WireTransport(client)
    server.pause()
    try:
        reply = transport.round_trip(SetTokens([f"{PREFIX}:k{i}" for i in range(500)], [60] * 500))
    finally:
        server.resume()
    assert isinstance(reply, redis.TimeoutError)
    # The paused server answers the 500 SETs once resumed: a connection put back in the
    # pool without a disconnect would hand "+OK" to the next command.
    assert client.set("probe", "value") is True
    assert client.get("probe") == b"value"
    client.close()


def test_cancelled_async_chunk_leaves_no_stale_reply(make_server: Any) -> None:
    server = make_server()

    async def run() -> None:
        client = server.async_client()
        await client.ping()
        transport = AsyncWireTransport(client)
        server.pause()
        try:
            task = asyncio.ensure_future(
                transport.round_trip(SetTokens([f"{PREFIX}:k{i}" for i in range(500)], [60] * 500))
            )
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            server.resume()
        assert await client.set("probe", "value") is True
        assert await client.get("probe") == b"value"
        await client.aclose()

    asyncio.run(run())


@pytest.mark.parametrize("protocol", [2, 3])
def test_resp3_decoded_partial_noperm_is_exact(
    acl_server: RedisServer, protocol: int, capture: Any
) -> None:
    """Error replies come out of redis-py's own parser, whatever the protocol/decoding."""
    admin = acl_server.client()
    admin.flushall()
    hashes = random_hashes(400)
    client = acl_server.client(
        username=PARTIAL_USER[0],
        password=PARTIAL_USER[1],
        protocol=protocol,
        decode_responses=True,
    )
    result = TokenBlacklist(client, chunk_size=150, **capture.kwargs()).blacklist_tokens(hashes, 60)
    assert 0 < result.succeeded < 400
    assert set(result.reasons) == {FailureReason.NOPERM}
    assert_matches_redis(result, hashes, admin)
    client.close()
    admin.close()


@pytest.mark.skipif(not HIREDIS, reason="hiredis is not installed (the matrix's no-hiredis leg)")
def test_hiredis_is_drained_directly_with_this_redis_py(redis_server: RedisServer) -> None:
    """If redis-py moves its hiredis parser, the wire path silently falls back to one
    ``read_response`` per reply (correct, slower): this says so in CI instead."""
    from token_blacklist._io import sync_hooks

    client = redis_server.client()
    client.ping()
    connection = sync_hooks.get_connection(client.connection_pool)
    try:
        assert type(connection._parser) is sync_hooks.HIREDIS_PARSER
        assert connection._parser._reader is not None
    finally:
        client.connection_pool.release(connection)
        client.close()
