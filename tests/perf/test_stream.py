"""``blacklist_stream``: batches from an iterable, summed into one exact result."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.asyncio.retry import Retry as ARetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import assert_matches_redis, assert_telemetry_matches, held, random_hashes
from token_blacklist import AsyncTokenBlacklist, InvalidTokenHash, TokenBlacklist
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture


def stream(mode: str, server: RedisServer, capture: TelemetryCapture, items: Any, **kw: Any) -> Any:
    options = {"chunk_size": kw.pop("chunk_size", 300), **capture.kwargs()}
    client_kwargs = {"socket_timeout": 1, **kw.pop("client_kwargs", {})}
    if mode == "sync":
        client = server.client(**client_kwargs)
        try:
            return TokenBlacklist(client, **options).blacklist_stream(items, 60, **kw)
        finally:
            client.close()

    async def run() -> Any:
        client = server.async_client(**client_kwargs)
        try:
            return await AsyncTokenBlacklist(client, **options).blacklist_stream(items, 60, **kw)
        finally:
            await client.aclose()

    return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_stream_from_a_generator_matches_redis(
    mode: str, redis_server: RedisServer, admin: redis.Redis, capture: TelemetryCapture
) -> None:
    hashes = random_hashes(2500)

    def generate() -> Iterator[str]:
        for index, token_hash in enumerate(hashes):
            yield token_hash
            if index == 10:
                yield token_hash  # a duplicate inside the first batch counts once

    result = stream(mode, redis_server, capture, generate(), batch_size=1000)
    assert result.ok and result.requested == 2500
    assert result.chunks == 4 + 4 + 2  # 1000 = 300+300+300+100 per full batch, 500 = 2
    assert_matches_redis(result, hashes, admin)
    assert_telemetry_matches(capture, result)


def test_duplicates_across_batches_count_per_batch(
    mode: str, redis_server: RedisServer, admin: redis.Redis, capture: TelemetryCapture
) -> None:
    hashes = random_hashes(5)
    result = stream(mode, redis_server, capture, iter(hashes + hashes), batch_size=5)
    assert (result.requested, result.succeeded) == (10, 10)
    assert held(admin, hashes) == set(hashes)


def test_invalid_input_in_a_later_batch_carries_the_partial_result(
    mode: str, redis_server: RedisServer, admin: redis.Redis, capture: TelemetryCapture
) -> None:
    hashes = random_hashes(1500)
    items = [*hashes[:1200], "short", *hashes[1200:]]
    with pytest.raises(InvalidTokenHash) as caught:
        stream(mode, redis_server, capture, iter(items), batch_size=500)
    error = caught.value
    assert error.index == 1200 and "token_hashes[1200]" in str(error)
    partial = error.partial_result  # type: ignore[attr-defined]
    assert (partial.requested, partial.succeeded) == (1000, 1000)
    assert held(admin, hashes) == set(hashes[:1000]), "the bad batch must not be sent"
    assert capture.sample("token_blacklist_tokens_total", outcome="succeeded") == 1000
    assert (
        capture.sample(
            "token_blacklist_operations_total", operation="blacklist", outcome="rejected"
        )
        == 1
    )


def test_a_single_string_is_refused(
    mode: str, redis_server: RedisServer, capture: TelemetryCapture
) -> None:
    with pytest.raises(TypeError):
        stream(mode, redis_server, capture, "a" * 64)


def test_down_server_skips_later_batches(
    mode: str, make_server: Any, capture: TelemetryCapture
) -> None:
    server = make_server()
    server.stop()
    no_retry = (
        {"retry": Retry(NoBackoff(), 0)} if mode == "sync" else {"retry": ARetry(NoBackoff(), 0)}
    )
    result = stream(
        mode,
        server,
        capture,
        iter(random_hashes(50)),
        batch_size=10,
        chunk_size=5,
        client_kwargs=no_retry,
    )
    assert (result.requested, result.failed) == (50, 50)
    assert set(result.reasons) == {"connection"}
    assert result.chunks == 10
    assert result.round_trips == 1, "batches after a refused connection must not be sent"
    assert_telemetry_matches(capture, result)


def test_a_batch_is_written_before_the_next_is_read(
    mode: str, redis_server: RedisServer, admin: redis.Redis, capture: TelemetryCapture
) -> None:
    """The input is never materialised: reading item 10 finds items 0-9 already in Redis."""
    hashes = random_hashes(30)
    seen_in_redis: list[int] = []

    def generate() -> Iterator[str]:
        for index, token_hash in enumerate(hashes):
            if index and index % 10 == 0:
                seen_in_redis.append(len(held(admin, hashes[:index])))
            yield token_hash

    result = stream(mode, redis_server, capture, generate(), batch_size=10)
    assert result.succeeded == 30
    assert seen_in_redis == [10, 20]
