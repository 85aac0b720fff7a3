"""When the wire transport may take a pooled connection the lean way.

redis-py 8's ``ConnectionPool.get_connection()``/``release()`` cost about 6 us a call on a
2-core machine, as much as the rest of a logout's own work: a deprecation wrapper, a
``Retry`` around an already connected socket, and four observability counter updates plus
an event dispatch that do nothing unless someone asked for them. The hooks'
``checkout``/``checkin`` do the part that matters (the pool's lock, its idle list and
in-use set, the fork check, the "connection has data" check) and hand every other case to
the pool's own methods:

- only redis-py's own pool class (a subclass may count or block differently), without a
  client-side cache, streaming credentials (their re-auth runs on release) or extra
  release listeners;
- only while redis-py's observability is off (its counters are no-ops then);
- only for an idle, connected connection with nothing to read: a new, disconnected or
  dirty one (or one with a maintenance notification waiting, which the pool accepts when
  those are on) goes through ``get_connection()`` as always.

Both flavours' hooks use these checks; the attribute names are redis-py 8's, and a pool
without them simply takes the public route.
"""

from __future__ import annotations

import os
from typing import Any

try:
    from redis.credentials import StreamingCredentialProvider
except ImportError:  # pragma: no cover - depends on the redis-py version
    StreamingCredentialProvider = ()  # type: ignore[assignment,misc]
try:
    from redis.event import (
        AfterConnectionReleasedEvent,
        AsyncReAuthConnectionListener,
        ReAuthConnectionListener,
    )
    from redis.observability.providers import get_observability_instance
except ImportError:  # pragma: no cover - depends on the redis-py version
    get_observability_instance = None  # type: ignore[assignment]

__all__ = ["current_pid", "lean_pool", "redis_observed"]

current_pid = os.getpid()
"""This process's id, renewed in a forked child: what a pool's ``pid`` is compared with
(``os.getpid()`` is a system call, twice a call on the lean route)."""


def _forked() -> None:
    global current_pid  # noqa: PLW0603 - the one writer, in a forked child
    current_pid = os.getpid()


if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows (no fork there)
    os.register_at_fork(after_in_child=_forked)

_POOL_FIELDS = ("_lock", "_available_connections", "_in_use_connections")


def redis_observed() -> bool:
    """Whether redis-py's own observability (its OpenTelemetry metrics) is enabled now."""
    if get_observability_instance is None:  # pragma: no cover
        return True
    try:
        manager = get_observability_instance().get_provider_manager()
    except Exception:  # redis-py's own recorder treats it as "off" too
        return False
    return manager is not None and bool(manager.config.enabled_telemetry)


def _plain_release_listeners(pool: Any) -> bool:
    """Only redis-py's re-auth listener on release: a no-op without streaming credentials."""
    dispatcher = getattr(pool, "_event_dispatcher", None)
    mapping = getattr(dispatcher, "_event_listeners_mapping", None)
    if not isinstance(mapping, dict):
        return False
    plain = (ReAuthConnectionListener, AsyncReAuthConnectionListener)
    return all(
        isinstance(listener, plain)
        for event, listeners in mapping.items()
        if isinstance(event, type) and issubclass(event, AfterConnectionReleasedEvent)
        for listener in listeners
    )


def lean_pool(pool: Any, pool_class: type, *fields: str) -> bool:
    """Whether ``pool`` (checked once, when the transport is built) may use the lean route:
    an instance of exactly ``pool_class`` with the attributes the hooks use (``fields``
    are the flavour's own)."""
    if get_observability_instance is None or type(pool) is not pool_class:
        return False
    if not all(hasattr(pool, name) for name in (*_POOL_FIELDS, *fields)):
        return False
    if getattr(pool, "cache", None) is not None:
        return False
    kwargs = getattr(pool, "connection_kwargs", {})
    if isinstance(kwargs.get("credential_provider"), StreamingCredentialProvider):
        return False
    return _plain_release_listeners(pool)
