"""Every redis-py internal the library touches, named: an upgrade that moves one fails here.

``token_blacklist._compat`` decides at import how to call what moved between redis-py 5.0
and 8.x; the rest of the library uses public API or the attributes below. When one of
these assertions fails on a new redis-py, the fast path (``_async/wire.py`` and the hooks
in ``_io``), the cluster transport (``_cluster.py``) or the Sentinel transport would
otherwise break at run time, or silently fall back to a slower path.
"""

from __future__ import annotations

import inspect

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.sentinel
import redis.cluster
import redis.connection
import redis.crc
import redis.sentinel

from token_blacklist import FailureReason, _compat
from token_blacklist._io import async_hooks, sync_hooks


def _has(cls: type, *names: str) -> list[str]:
    return [name for name in names if not hasattr(cls, name)]


def test_this_redis_py_is_a_supported_one() -> None:
    low, high = _compat.SUPPORTED_REDIS_PY
    assert low <= _compat.REDIS_PY_VERSION[:2] < high, redis.__version__


def test_the_version_is_read_as_numbers() -> None:
    assert _compat._version("5.0.1") == (5, 0, 1)
    assert _compat._version("8.1.0b2") == (8, 1, 0)
    assert _compat._version("7.4") == (7, 4)


@pytest.mark.parametrize(
    "pool_class",
    [
        redis.connection.ConnectionPool,
        redis.connection.BlockingConnectionPool,
        redis.asyncio.connection.ConnectionPool,
        redis.asyncio.connection.BlockingConnectionPool,
        redis.sentinel.SentinelConnectionPool,
        redis.asyncio.sentinel.SentinelConnectionPool,
    ],
)
def test_get_connection_is_called_the_way_this_pool_wants(pool_class: type) -> None:
    """The arguments ``_compat`` decided bind to each pool class's signature, without the
    deprecated command name where the pool no longer needs it."""
    async_pool = issubclass(pool_class, redis.asyncio.connection.ConnectionPool)
    args = _compat.ASYNC_POOL_ARGS if async_pool else _compat.SYNC_POOL_ARGS
    signature = inspect.signature(pool_class.get_connection)
    signature.bind(None, *args)  # raises TypeError when a required argument is missing
    first = list(signature.parameters.values())[1]
    if first.name == "command_name" and first.default is inspect.Parameter.empty:
        assert args == ("SET",)
    else:
        assert args == ()


def test_the_connection_internals_of_the_fast_path() -> None:
    for connection in (redis.connection.Connection(), redis.asyncio.connection.Connection()):
        # Set in __init__ (nothing connects here): what the fast path reads off a connection.
        for attribute in ("_parser", "retry", "health_check_interval", "next_health_check"):
            assert hasattr(connection, attribute), (type(connection), attribute)
        assert _has(type(connection), "send_packed_command", "read_response", "disconnect") == []
        assert callable(connection.retry.call_with_retry)
    assert "nowait" in inspect.signature(redis.asyncio.connection.Connection.disconnect).parameters
    # async_hooks.send writes on the stream writer itself (no wait_for task per write).
    asynchronous = redis.asyncio.connection.Connection()
    assert hasattr(asynchronous, "_writer") and hasattr(asynchronous, "socket_timeout")
    assert asynchronous.is_connected is False  # a property: then send_packed_command is used
    for pool in (redis.connection.ConnectionPool, redis.asyncio.connection.ConnectionPool):
        assert _has(pool, "get_connection", "release") == []
        assert hasattr(pool(), "connection_kwargs")  # _options reads server.address from it


@pytest.mark.skipif(_compat.SYNC_HIREDIS_PARSER is None, reason="hiredis is not installed")
def test_the_hiredis_parser_internals_the_fast_path_drains() -> None:
    import hiredis

    assert sync_hooks.HIREDIS_PARSER is _compat.SYNC_HIREDIS_PARSER
    assert async_hooks.HIREDIS_PARSER is _compat.ASYNC_HIREDIS_PARSER
    for parser in (_compat.SYNC_HIREDIS_PARSER, _compat.ASYNC_HIREDIS_PARSER):
        assert _has(parser, "read_from_socket", "on_connect") == []
        assert "self._reader" in inspect.getsource(parser)
    assert "self._connected" in inspect.getsource(_compat.ASYNC_HIREDIS_PARSER)
    # The sentinel the fast path compares ``gets()`` with is the one the parser gives hiredis.
    source = inspect.getsource(_compat.SYNC_HIREDIS_PARSER.on_connect)
    if _compat.NOT_ENOUGH_DATA is False:
        assert "notEnoughData" not in source
        assert hiredis.Reader().gets() is False
    else:
        assert "NOT_ENOUGH_DATA" in source
        reader = hiredis.Reader(notEnoughData=_compat.NOT_ENOUGH_DATA)
        assert reader.gets() is _compat.NOT_ENOUGH_DATA


def test_push_replies_are_told_apart_where_the_parser_knows_them() -> None:
    class Parser:
        _hiredis_PushNotificationType = list

    assert _compat.push_type(Parser()) is list
    assert _compat.push_type(object()) is None
    if _compat.ASYNC_HIREDIS_PARSER is not None and _compat.REDIS_PY_VERSION >= (8,):
        assert "_hiredis_PushNotificationType" in inspect.getsource(_compat.ASYNC_HIREDIS_PARSER)
        assert _has(_compat.ASYNC_HIREDIS_PARSER, "handle_push_response") == []


def test_the_cluster_internals_the_cluster_transport_uses() -> None:
    assert callable(redis.crc.key_slot)
    assert _has(redis.cluster.RedisCluster, "get_node", "get_redis_connection") == []
    assert _has(redis.cluster.NodesManager, "get_node_from_slot", "initialize") == []
    assert _has(redis.asyncio.cluster.RedisCluster, "get_node", "initialize") == []
    assert _has(redis.asyncio.cluster.ClusterNode, "execute_pipeline") == []
    assert _has(redis.asyncio.cluster.NodesManager, "get_node_from_slot", "initialize") == []
    command = redis.asyncio.cluster.PipelineCommand(0, "SET", "k", "1")
    assert hasattr(command, "result")


@pytest.mark.parametrize(
    "manager", [redis.cluster.NodesManager, redis.asyncio.cluster.NodesManager]
)
def test_a_moved_slot_is_recorded_the_way_this_redis_py_does(manager: type) -> None:
    """8.x has ``move_slot``; 5.x records the redirect in ``_moved_exception`` and applies
    it in ``_update_moved_slots`` (``_compat`` picks one at import)."""
    if _compat.CLUSTER_MOVE_SLOT:
        assert _has(manager, "move_slot") == []
    else:
        assert _has(manager, "_update_moved_slots") == []
        assert "self._moved_exception" in inspect.getsource(manager._update_moved_slots)


@pytest.mark.parametrize(
    "manager", [redis.cluster.NodesManager, redis.asyncio.cluster.NodesManager]
)
def test_a_slot_map_refresh_is_asked_the_way_this_redis_py_takes_it(manager: type) -> None:
    parameters = inspect.signature(manager.initialize).parameters
    assert ("last_failed_node_name" in parameters) is _compat.CLUSTER_REFRESH_NAMES_FAILED
    assert all(p.default is not p.empty for n, p in parameters.items() if n != "self")


def test_the_sentinel_internals_the_sentinel_transport_uses() -> None:
    for pool in (
        redis.sentinel.SentinelConnectionPool,
        redis.asyncio.sentinel.SentinelConnectionPool,
    ):
        init = inspect.getsource(pool.__init__)
        assert "self.sentinel_manager" in init
        assert "self.service_name" in init
    for sentinel in (redis.sentinel.Sentinel, redis.asyncio.sentinel.Sentinel):
        assert _has(sentinel, "discover_slaves", "master_for") == []


def test_the_retry_count_is_read_in_every_version() -> None:
    """``_options`` subtracts redis-py's own re-sends from the caller's ``retries``: 5.x
    has no ``get_retries()``, so ``_compat`` reads ``_retries`` there."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    assert _compat.retries_of(Retry(NoBackoff(), 4)) == 4
    assert _compat.retries_of(Retry(NoBackoff(), 0)) == 0
    assert _compat.retries_of(None) == 0
    assert _has(Retry, "call_with_retry") == []
    for client in (redis.Redis, redis.asyncio.Redis):
        assert _has(client, "get_retry", "execute_command", "pipeline") == []


def test_the_instrumentation_marker_round_trips_looks_for() -> None:
    """opentelemetry-instrumentation-redis wraps ``execute_command`` with wrapt: the
    ``__wrapped__`` it leaves is what ``round_trips.redis_py_traced`` looks for."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    from token_blacklist._observability.round_trips import redis_py_traced

    client = redis.Redis()
    traced = redis_py_traced(client)
    assert traced() is False
    RedisInstrumentor().instrument_client(client)
    try:
        assert traced() is True
    finally:
        RedisInstrumentor().uninstrument_client(client)


def test_the_pool_internals_of_the_lean_route() -> None:
    """``_io.pools`` takes an idle connection without the pool's public methods where
    redis-py has the observability module it checks (8.x); elsewhere it never does."""
    from token_blacklist._io import pools

    if pools.get_observability_instance is None:
        assert not async_hooks.lean_pool(redis.asyncio.ConnectionPool())
        assert not sync_hooks.lean_pool(redis.ConnectionPool())
        return
    for pool in (redis.ConnectionPool(), redis.asyncio.ConnectionPool()):
        assert all(hasattr(pool, name) for name in pools._POOL_FIELDS), type(pool)
    for connection in (redis.connection.Connection, redis.asyncio.connection.Connection):
        assert _has(connection, "can_read", "should_reconnect") == []


def test_valkey_py_errors_are_classified_as_redis_py_ones() -> None:
    """The same failure from either client library gets the same reason: by the class of
    the same name (their parsers strip the error code they map), else by the error code."""
    valkey_exceptions = pytest.importorskip("valkey.exceptions")
    from token_blacklist._core.classify import REDIS_FAILURES, classify_error

    assert _compat.VALKEY_PY_VERSION is not None and _compat.VALKEY_PY_VERSION >= (6, 0)
    for name in (
        "OutOfMemoryError",
        "NoPermissionError",
        "ReadOnlyError",
        "BusyLoadingError",
        "ClusterDownError",
        "TryAgainError",
        "TimeoutError",
        "ConnectionError",
        "AuthenticationError",
    ):
        ours = getattr(redis.exceptions, name)("x")
        theirs = getattr(valkey_exceptions, name)("x")
        assert isinstance(theirs, REDIS_FAILURES)
        assert classify_error(theirs) is classify_error(ours), name
    for code in ("OOM", "NOPERM", "READONLY", "NOREPLICAS", "MASTERDOWN", "BUSY"):
        ours = redis.exceptions.ResponseError(f"{code} some text")
        theirs = valkey_exceptions.ResponseError(f"{code} some text")
        assert classify_error(theirs) is classify_error(ours) is not FailureReason.OTHER
    assert _compat.errors("RedisClusterException")[1] is valkey_exceptions.ValkeyClusterException


def test_valkey_py_clients_are_taken_where_redis_py_ones_are() -> None:
    pytest.importorskip("valkey")
    import valkey.asyncio
    import valkey.asyncio.cluster
    import valkey.cluster

    from token_blacklist._async.pipeline import AsyncPipelineTransport
    from token_blacklist._sync.pipeline import PipelineTransport
    from token_blacklist._transports import async_transport_for, sync_transport_for

    # valkey-py clients take the pipeline transport (the fast path reads redis-py's parser)
    assert type(sync_transport_for(valkey.Valkey())) is PipelineTransport
    assert type(async_transport_for(valkey.asyncio.Valkey())) is AsyncPipelineTransport
    with pytest.raises(TypeError, match="need AsyncTokenBlacklist"):
        sync_transport_for(valkey.asyncio.Valkey())
    assert valkey.cluster.ValkeyCluster in _compat.SYNC_CLUSTERS
    assert valkey.asyncio.cluster.ValkeyCluster in _compat.ASYNC_CLUSTERS
    for node in (redis.asyncio.cluster.ClusterNode, valkey.asyncio.cluster.ClusterNode):
        # what _cluster's node pipeline uses (release: 8.x; _free: 5.x and valkey-py)
        assert _has(node, "acquire_connection", "parse_response") == []
        assert hasattr(node, "release") or "_free" in inspect.getsource(node.__init__)
    assert _compat.pool_args(valkey.ConnectionPool()) == ("SET",)
