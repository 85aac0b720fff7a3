"""The wire transport's lean route through redis-py's pool (``_io.pools``): the same
connections, the same accounting, never a stream with someone else's reply on it."""

from __future__ import annotations

import asyncio
import select

import pytest
import redis
import redis.asyncio

from assertions import held, random_hashes
from token_blacklist import AsyncTokenBlacklist, TokenBlacklist
from token_blacklist._io import async_hooks, sync_hooks
from token_blacklist.server import RedisServer


def test_a_stale_reply_on_an_idle_connection_is_never_read_as_ours(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    """A PING sent and never read (redis-py's sync pipeline leaves such replies when
    interrupted) sits on the idle connection; redis-py's pool takes it as it is while
    maintenance notifications are "auto" (its default). The logout must not count the
    PONG as the first SET's answer, nor leave an answer for the next command."""
    client = redis_server.client()
    blacklist = TokenBlacklist(client, registry=None)
    assert sync_hooks.lean_pool(client.connection_pool)
    client.ping()
    conn = client.connection_pool.get_connection()
    conn.send_command("PING")
    _wait_readable(conn)  # the PONG is in the socket buffer (in flight: the next test)
    client.connection_pool.release(conn)
    hashes = random_hashes(2)
    result = blacklist.blacklist_tokens(hashes, 60)
    assert (result.requested, result.succeeded, result.failed) == (2, 2, 0)
    assert held(admin, hashes) == set(hashes)
    assert blacklist.is_blacklisted(hashes[0]) is True
    assert blacklist.is_blacklisted(random_hashes(1)[0]) is False
    assert client.echo("mine") == b"mine"
    client.close()


def _wait_readable(conn: object, timeout: float = 5.0) -> None:
    sock = conn._sock  # type: ignore[attr-defined]
    ready, _, _ = select.select([sock], [], [], timeout)
    assert ready, "no reply came"


# A script that answers a string 50 ms later: its reply is still on its way when the
# connection is handed to the next caller, so no idle check can see it.
_LATE_STRING = """
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat
  t = redis.call('TIME')
until t[1] * 1000000 + t[2] - start > 50000
return 'someone else'
"""


def test_a_reply_still_in_flight_on_a_pooled_connection_never_shifts_the_next_calls(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    """A request left unanswered on a pooled connection (a caller interrupted before it
    read) whose reply is still on its way: no idle check can see it, and the logout reads
    it as its first reply. That one is counted failed (reported short: Redis holds both);
    the reply still due to the logout is on the connection when the next call takes it,
    whose idle check drops it, so it never answers the next caller's command."""
    client = redis_server.client()
    blacklist = TokenBlacklist(client, registry=None)
    client.ping()
    conn = client.connection_pool.get_connection()
    conn.send_command("EVAL", _LATE_STRING, 0)
    client.connection_pool.release(conn)
    hashes = random_hashes(2)
    result = blacklist.blacklist_tokens(hashes, 60)
    assert result.requested == 2 and result.succeeded <= len(held(admin, hashes))
    assert not result.ok  # the stray string is not an acknowledgement
    assert blacklist.is_blacklisted(random_hashes(1)[0]) is False  # not the SET's late OK
    assert blacklist.is_blacklisted(hashes[1]) is True
    assert client.echo("mine") == b"mine"
    client.close()


def test_a_stale_reply_on_an_idle_async_connection_is_never_read_as_ours(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    async def run() -> None:
        client = redis_server.async_client()
        blacklist = AsyncTokenBlacklist(client, registry=None)
        assert async_hooks.lean_pool(client.connection_pool)
        await client.ping()
        conn = await client.connection_pool.get_connection()
        await conn.send_command("PING")
        await asyncio.sleep(0.05)  # the PONG is in the socket buffer
        await client.connection_pool.release(conn)
        hashes = random_hashes(2)
        result = await blacklist.blacklist_tokens(hashes, 60)
        assert (result.requested, result.succeeded, result.failed) == (2, 2, 0)
        assert held(admin, hashes) == set(hashes)
        assert await blacklist.is_blacklisted(hashes[1]) is True
        assert await client.echo("mine") == b"mine"
        await client.aclose()

    asyncio.run(run())


def test_the_lean_route_keeps_the_pools_books(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    """Calls from several threads: every connection goes back to the pool's idle list,
    none stays "in use", and the pool never makes more than the threads needed."""
    from concurrent.futures import ThreadPoolExecutor

    client = redis_server.client()
    pool = client.connection_pool
    blacklist = TokenBlacklist(client, registry=None)
    batches = [random_hashes(2) for _ in range(200)]
    with ThreadPoolExecutor(4) as executor:
        results = list(executor.map(lambda hashes: blacklist.blacklist_tokens(hashes, 60), batches))
    assert all(r.ok for r in results)
    assert held(admin, [h for b in batches for h in b]) == {h for b in batches for h in b}
    assert not pool._in_use_connections
    assert 1 <= len(pool._available_connections) == pool._created_connections <= 4
    client.close()


@pytest.mark.parametrize(
    "pool_class", [redis.BlockingConnectionPool, type("Counting", (redis.ConnectionPool,), {})]
)
def test_other_pools_take_their_own_methods(
    redis_server: RedisServer, admin: redis.Redis, pool_class: type
) -> None:
    pool = pool_class(
        host=redis_server.host, port=redis_server.port, **redis_server_auth(redis_server)
    )
    client = redis.Redis(connection_pool=pool)
    assert not sync_hooks.lean_pool(pool)
    hashes = random_hashes(3)
    assert TokenBlacklist(client, registry=None).blacklist_tokens(hashes, 60).ok
    assert held(admin, hashes) == set(hashes)
    client.close()


def redis_server_auth(server: RedisServer) -> dict[str, object]:
    return server._probe_auth()


class RequestTimeout(Exception):
    """What a web server's signal handler raises into a request that ran too long."""


def test_an_interrupt_between_send_and_read_never_leaves_replies_in_the_pool(
    make_server, capture
) -> None:
    """The hot path (default options): an exception raised by a signal handler while the
    SETs are on the wire and the replies unread. The connection is dropped, never handed
    back with the replies pending; the call's span says what escaped, by class only."""
    import signal

    server = make_server()
    client = server.client(socket_timeout=5)
    blacklist = TokenBlacklist(client, **capture.kwargs())
    client.ping()
    hashes = random_hashes(2)

    def interrupt(signum: int, frame: object) -> None:
        raise RequestTimeout

    previous = signal.signal(signal.SIGALRM, interrupt)
    server.pause()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(RequestTimeout):
            blacklist.blacklist_tokens(hashes, 60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        server.resume()
    # Redis answers the two SETs once resumed: a pooled connection with them unread
    # would hand "+OK" to the next command.
    assert client.echo("mine") == b"mine"
    assert blacklist.is_blacklisted(hashes[0]) is True  # the SETs did reach Redis
    assert not client.connection_pool._in_use_connections
    [span] = capture.spans("token_blacklist.blacklist_tokens")
    assert span.attributes["error.type"] == "RequestTimeout"
    assert span.attributes["token_blacklist.requested"] == 2
    assert span.status.status_code.name == "ERROR"
    client.close()


def test_a_cancelled_hot_path_check_leaves_no_reply_behind(make_server, capture) -> None:
    server = make_server()

    async def run() -> None:
        client = server.async_client()
        blacklist = AsyncTokenBlacklist(client, **capture.kwargs())
        await client.ping()
        server.pause()
        try:
            task = asyncio.ensure_future(blacklist.is_blacklisted(random_hashes(1)[0]))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            server.resume()
        assert await client.echo("mine") == b"mine"
        assert not client.connection_pool._in_use_connections
        await client.aclose()

    asyncio.run(run())
    [span] = capture.spans("token_blacklist.check")
    assert span.attributes["error.type"] == "CancelledError"
