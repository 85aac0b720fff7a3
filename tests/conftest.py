"""Real redis-server processes, started by the suite on loopback, and telemetry capture.

No fake Redis and no mocked client: every failure path is produced the way production
meets it (ACL rules, maxmemory, replicas, killed, paused or cut connections).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from token_blacklist import AsyncTokenBlacklist, TokenBlacklist
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

# One session-wide Redis Cluster (fixtures `redis_cluster` and `cluster`), usable by any test.
pytest_plugins = ["cluster.cluster_fixtures"]

PREFIX = "token_blacklist"
PARTIAL_USER = ("partial", "partial-pw")
ACL_USERS = [
    "default on nopass ~* &* +@all",
    # May write only keys whose hash starts with 0-7: about half of random hex hashes.
    f"{PARTIAL_USER[0]} on >{PARTIAL_USER[1]} ~{PREFIX}:[0-7]* resetchannels "
    "+@connection +set +expire +exists +ping",
]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A plain server shared by the session; tests start from an empty database."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def admin(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the shared server with every right; the database is flushed first."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def acl_server() -> Iterator[RedisServer]:
    """A server with an ACL user limited to part of the key space."""
    with RedisServer({"user": ACL_USERS}) as server:
        yield server


@pytest.fixture
def make_server() -> Iterator[Callable[..., RedisServer]]:
    """Start private servers for one test (faults that would spoil a shared one)."""
    started: list[RedisServer] = []

    def make(config: dict[str, Any] | None = None) -> RedisServer:
        server = RedisServer(config).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def replica_server(redis_server: RedisServer) -> Iterator[RedisServer]:
    """A replica of the shared server: every write is answered READONLY."""
    with RedisServer({"replicaof": f"{redis_server.host} {redis_server.port}"}) as server:
        yield server


@pytest.fixture
def capture() -> TelemetryCapture:
    return TelemetryCapture()


class Harness:
    """Runs one library call through the sync or the async client, so that every test
    proves both shells. Each call gets a fresh client, closed afterwards. ``fast_path``
    picks the transport (hand-packed wire chunks, or redis-py pipelines), so every test
    proves both of those too. ``trace_round_trips``: True traces the fast path's round
    trips (the call's span is current while it runs); ``"auto"``, the default, without
    redis-py instrumentation is the hot path (the call's span is made once it is over)."""

    def __init__(
        self,
        mode: str,
        capture: TelemetryCapture,
        *,
        fast_path: bool = True,
        trace_round_trips: bool | str = True,
    ) -> None:
        self.mode = mode
        self.capture = capture
        self.fast_path = fast_path
        self.trace_round_trips = trace_round_trips

    def call(
        self,
        server: Any,
        method: str,
        *args: Any,
        client_kwargs: dict[str, Any] | None = None,
        before: Callable[[], None] | None = None,
        **options: Any,
    ) -> Any:
        """``before`` runs once the client is connected (after a PING), right before the
        call: the place to arm a fault that must hit the call, not the handshake."""
        kwargs = {
            **self.capture.kwargs(),
            "fast_path": self.fast_path,
            "trace_round_trips": self.trace_round_trips,
            **options,
        }
        client_kwargs = client_kwargs or {}
        if self.mode == "sync":
            client = server.client(**client_kwargs)
            try:
                blacklist = TokenBlacklist(client, **kwargs)
                if before is not None:
                    client.ping()
                    before()
                return getattr(blacklist, method)(*args)
            finally:
                client.close()

        async def run() -> Any:
            client = server.async_client(**client_kwargs)
            try:
                blacklist = AsyncTokenBlacklist(client, **kwargs)
                if before is not None:
                    await client.ping()
                    before()
                outcome = getattr(blacklist, method)(*args)
                return await outcome if inspect.isawaitable(outcome) else outcome
            finally:
                await client.aclose()

        return asyncio.run(run())

    def blacklist(self, server: Any, hashes: Any, ttl: Any = 60, **kw: Any) -> Any:
        return self.call(server, "blacklist_tokens", hashes, ttl, **kw)


@pytest.fixture(
    params=["sync", "async", "sync-pipeline", "async-pipeline", "sync-hot", "async-hot"]
)
def harness(request: pytest.FixtureRequest, capture: TelemetryCapture) -> Harness:
    """Each shell on the fast path with its round trips traced, on redis-py pipelines, and
    on the hot path (the defaults: no Redis span, the call's span made once it is over)."""
    mode, _, transport = request.param.partition("-")
    return Harness(
        mode,
        capture,
        fast_path=transport != "pipeline",
        trace_round_trips="auto" if transport == "hot" else True,
    )
