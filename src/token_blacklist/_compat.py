"""What differs between the supported redis-py versions (5.0 to 8.x), and what valkey-py
(the redis-py fork, ``valkey`` on PyPI) has under other names, decided once at import.

The library touches a few redis-py internals on its fast path (``_async/wire.py``, through
the per-flavour hooks in ``_io``). Where they moved between versions, this module looks once
which shape the installed redis-py has and says so in a constant; nothing else in the
package asks redis-py's version. ``tests/unit/test_compat.py`` names every internal the
library touches, so an upgrade that moves one fails there, loudly, instead of somewhere in
the fast path.

- The pool's ``get_connection``: redis-py < 5.3 requires a command name (which it ignores),
  5.3+ deprecates passing one (and 8.x warns when it is passed).
- The hiredis parser classes (``redis._parsers.hiredis``), absent when hiredis is not
  installed or redis-py is built without them: the fast path then reads reply by reply
  through ``read_response`` (any parser works).
- What the hiredis reader's ``gets()`` returns while a reply is incomplete: later 5.x and
  newer give the reader a sentinel of their own (``NOT_ENOUGH_DATA``), 5.0 lets hiredis
  return ``False``.
- The RESP3 push type: redis-py 8 gives the parser ``_hiredis_PushNotificationType``
  (pushes are handed to ``handle_push_response``); 5.x has none, and pushes arrive only on
  connections that asked for them (client tracking), which the fast path never does.
- A MOVED redirect the cluster transport followed: redis-py 8's ``NodesManager`` has
  ``move_slot``; 5.x records it in ``_moved_exception`` and applies it in
  ``_update_moved_slots``.
- A slot-map refresh after a node failed: redis-py 8's ``NodesManager.initialize`` takes
  ``last_failed_node_name`` (it asks another node first); 5.x takes no argument.
- A client's ``Retry``: redis-py >= 6 says how many times it re-sends (``get_retries()``);
  5.x keeps it in ``_retries`` only.
- valkey-py: its clients (``valkey.Valkey``, ``valkey.asyncio.Valkey``, ``ValkeyCluster``,
  Sentinel pools) and exceptions are classes of their own with the same names, but
  ``ValkeyError`` for ``RedisError`` and ``ValkeyClusterException`` for
  ``RedisClusterException``. :func:`errors` gives each exception of both libraries, so the
  core classifies them alike (and by the reply's error code where it has one). valkey-py
  clients take the pipeline transport: the fast path reads redis-py's hiredis parser.
- Observability: redis-py's OpenTelemetry instrumentation wraps ``execute_command``
  (``__wrapped__``) in every supported version; that is how ``round_trips`` knows the
  client is traced. No other hook is used.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

import redis
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.sentinel
import redis.cluster
import redis.connection
import redis.exceptions
import redis.sentinel
from redis.utils import HIREDIS_AVAILABLE

try:  # the optional extra token-blacklist[valkey]
    import valkey
    import valkey.asyncio
    import valkey.asyncio.cluster
    import valkey.asyncio.sentinel
    import valkey.cluster
    import valkey.exceptions
    import valkey.sentinel
except ImportError:  # pragma: no cover - valkey-py not installed
    valkey = None  # type: ignore[assignment]

try:  # present when hiredis is installed (redis[hiredis]); optional for the fast path
    from redis._parsers import hiredis as _hiredis_parsers
except ImportError:  # pragma: no cover - depends on the redis-py build
    _hiredis_parsers = None  # type: ignore[assignment]

__all__ = [
    "ASYNC_CLIENTS",
    "ASYNC_CLUSTERS",
    "ASYNC_HIREDIS_PARSER",
    "ASYNC_POOL_ARGS",
    "CLUSTER_MOVE_SLOT",
    "CLUSTER_REFRESH_NAMES_FAILED",
    "HIREDIS",
    "NOT_ENOUGH_DATA",
    "REDIS_PY_VERSION",
    "SENTINEL_POOLS",
    "SUPPORTED_REDIS_PY",
    "SYNC_CLIENTS",
    "SYNC_CLUSTERS",
    "SYNC_HIREDIS_PARSER",
    "SYNC_POOL_ARGS",
    "VALKEY_PY_VERSION",
    "async_move_slot",
    "async_refresh_slots",
    "errors",
    "node_client_getter",
    "node_release",
    "pool_args",
    "push_type",
    "retries_of",
    "sync_move_slot",
    "sync_refresh_slots",
]

SUPPORTED_REDIS_PY: Final = ((5, 0), (9, 0))
"""redis-py versions the library supports: from 5.0 up to (not including) 9.0."""


def _version(text: str) -> tuple[int, ...]:
    """``"8.1.0b2"`` -> ``(8, 1, 0)``: the leading numbers of a version string."""
    numbers: list[int] = []
    for part in text.split("."):
        digits = part[: len(part) - len(part.lstrip("0123456789"))]
        if not digits:
            break
        numbers.append(int(digits))
        if digits != part:
            break
    return tuple(numbers)


REDIS_PY_VERSION: Final = _version(redis.__version__)


def _needs_command_name(method: Any) -> bool:
    """Whether ``get_connection``'s first argument (``command_name``) has no default."""
    parameters = list(inspect.signature(method).parameters.values())[1:]  # after self
    first = parameters[0] if parameters else None
    return (
        first is not None
        and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD)
        and first.default is inspect.Parameter.empty
    )


def _pool_args(pool_class: Any) -> tuple[str, ...]:
    # The command name is only used by redis-py < 5.3 for nothing at all; "SET" is truthful.
    return ("SET",) if _needs_command_name(pool_class.get_connection) else ()


SYNC_POOL_ARGS: Final = _pool_args(redis.connection.ConnectionPool)
"""Arguments for ``ConnectionPool.get_connection`` of this redis-py."""
ASYNC_POOL_ARGS: Final = _pool_args(redis.asyncio.connection.ConnectionPool)
"""Arguments for ``redis.asyncio.ConnectionPool.get_connection`` of this redis-py."""

HIREDIS: Final = bool(HIREDIS_AVAILABLE)
"""Whether redis-py found hiredis (its connections then use the hiredis parsers)."""
SYNC_HIREDIS_PARSER: Final[Any] = (
    getattr(_hiredis_parsers, "_HiredisParser", None) if HIREDIS else None
)
ASYNC_HIREDIS_PARSER: Final[Any] = (
    getattr(_hiredis_parsers, "_AsyncHiredisParser", None) if HIREDIS else None
)

NOT_ENOUGH_DATA: Final[Any] = getattr(_hiredis_parsers, "NOT_ENOUGH_DATA", False)
"""What the hiredis reader's ``gets()`` returns while the buffer holds no whole reply."""


def push_type(parser: Any) -> type | None:
    """The class of a RESP3 push in this parser's replies (None: pushes are not told apart)."""
    found = getattr(parser, "_hiredis_PushNotificationType", None)
    return found if isinstance(found, type) else None


def retries_of(retry: object) -> int:
    """How many times a redis-py ``Retry`` re-sends after a connection error (0: never,
    or not known)."""
    get_retries = getattr(retry, "get_retries", None)
    count = get_retries() if callable(get_retries) else getattr(retry, "_retries", 0)
    return count if isinstance(count, int) and count > 0 else 0


CLUSTER_MOVE_SLOT: Final = hasattr(redis.cluster.NodesManager, "move_slot") and hasattr(
    redis.asyncio.cluster.NodesManager, "move_slot"
)
"""Whether the cluster clients' ``NodesManager`` applies a redirect with ``move_slot``."""


def sync_move_slot(manager: Any, moved: Any) -> None:
    """Point ``moved``'s slot at the node a MOVED reply named, in the sync slot map."""
    if hasattr(manager, "move_slot"):
        manager.move_slot(moved)
    else:  # redis-py 5.x, under the lock its own get_node_from_slot takes
        with manager._lock:
            manager._moved_exception = moved
            manager._update_moved_slots()


async def async_move_slot(manager: Any, moved: Any) -> None:
    """The same for the asyncio cluster client's slot map."""
    if hasattr(manager, "move_slot"):
        await manager.move_slot(moved)
    else:
        manager._moved_exception = moved
        manager._update_moved_slots()


CLUSTER_REFRESH_NAMES_FAILED: Final = all(
    "last_failed_node_name" in inspect.signature(manager.initialize).parameters
    for manager in (redis.cluster.NodesManager, redis.asyncio.cluster.NodesManager)
)
"""Whether ``NodesManager.initialize`` can be told which node just failed."""


def _names_failed(manager: Any) -> bool:
    if type(manager) in (redis.cluster.NodesManager, redis.asyncio.cluster.NodesManager):
        return CLUSTER_REFRESH_NAMES_FAILED
    return "last_failed_node_name" in inspect.signature(manager.initialize).parameters


def sync_refresh_slots(manager: Any, failed: str | None) -> None:
    """Reload the slot map, from another node than ``failed`` where redis-py can."""
    if _names_failed(manager):
        manager.initialize(last_failed_node_name=failed)
    else:
        manager.initialize()


async def async_refresh_slots(manager: Any, failed: str | None) -> None:
    """The same for the asyncio cluster client's slot map."""
    if _names_failed(manager):
        await manager.initialize(last_failed_node_name=failed)
    else:
        await manager.initialize()


VALKEY_PY_VERSION: Final = _version(valkey.__version__) if valkey is not None else None
"""valkey-py's version, or None when it is not installed."""

_RENAMED = {"RedisError": "ValkeyError", "RedisClusterException": "ValkeyClusterException"}


def errors(name: str) -> tuple[type[BaseException], ...]:
    """redis-py's exception ``name`` (``"OutOfMemoryError"``), and valkey-py's of the same
    meaning when it is installed: for ``except`` and ``isinstance``."""
    found: list[type[BaseException]] = [getattr(redis.exceptions, name)]
    if valkey is not None:
        found.append(getattr(valkey.exceptions, _RENAMED.get(name, name)))
    return tuple(found)


def _classes(redis_classes: tuple[type[Any], ...], *valkey_names: str) -> tuple[type[Any], ...]:
    if valkey is None:
        return redis_classes
    found: list[type[Any]] = []
    for dotted in valkey_names:
        module, _, name = dotted.rpartition(".")
        found.append(getattr(__import__(module, fromlist=[name]), name))
    return (*redis_classes, *found)


SYNC_CLIENTS: Final = _classes((redis.Redis,), "valkey.Valkey")
ASYNC_CLIENTS: Final = _classes((redis.asyncio.Redis,), "valkey.asyncio.Valkey")
SYNC_CLUSTERS: Final = _classes((redis.cluster.RedisCluster,), "valkey.cluster.ValkeyCluster")
ASYNC_CLUSTERS: Final = _classes(
    (redis.asyncio.cluster.RedisCluster,), "valkey.asyncio.cluster.ValkeyCluster"
)
SENTINEL_POOLS: Final = _classes(
    (redis.sentinel.SentinelConnectionPool, redis.asyncio.sentinel.SentinelConnectionPool),
    "valkey.sentinel.SentinelConnectionPool",
    "valkey.asyncio.sentinel.SentinelConnectionPool",
)


def node_client_getter(client: Any) -> Any:
    """A sync cluster client's ``node -> client of that node`` method (redis-py calls it
    ``get_redis_connection``, valkey-py ``get_valkey_connection``)."""
    found = getattr(client, "get_redis_connection", None)
    return found if found is not None else client.get_valkey_connection


def node_release(node: Any, connection: Any) -> None:
    """Give an asyncio ``ClusterNode``'s connection back: redis-py 8's ``release`` (which
    disconnects one marked for reconnect), or the free list redis-py 5.x and valkey-py's
    ``execute_pipeline`` append to."""
    release = getattr(node, "release", None)
    if release is not None:
        release(connection)
    else:
        node._free.append(connection)


_POOL_ARGS: dict[type, tuple[str, ...]] = {}


def pool_args(pool: Any) -> tuple[str, ...]:
    """The arguments for ``pool.get_connection`` (decided once per pool class: a valkey-py
    pool, like redis-py 5.x's, requires a command name)."""
    cls = type(pool)
    args = _POOL_ARGS.get(cls)
    if args is None:
        args = _POOL_ARGS[cls] = _pool_args(cls)
    return args
