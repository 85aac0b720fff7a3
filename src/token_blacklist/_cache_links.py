"""``check_cache=``: the caching transport and its invalidation link, for either client."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import structlog
from prometheus_client import CollectorRegistry

from ._cache_cluster_link import ClusterLinkGroup
from ._cache_link import CacheLink, CachingTransport
from ._cache_link_async import AsyncCacheLink, AsyncCachingTransport, AsyncClusterLinkGroup
from ._cache_target import CacheMetrics, cache_metrics_for
from ._core.check_cache import CacheState, CheckCache
from ._transports import sentinel_managed

__all__ = ["async_check_cache", "sync_check_cache"]


class LinkLog:
    """The link's events: ``token_blacklist.check_cache_link`` with ``state`` up or down.

    As for the calls' events: with no logger injected and structlog unconfigured, only
    warnings are emitted (a link that went down); a link that stays down is reported once.
    """

    def __init__(self, logger: Any) -> None:
        self._logger = logger or structlog.get_logger("token_blacklist")
        self._quiet = logger is None and not structlog.is_configured()
        self._down = False

    def up(self) -> None:
        self._down = False
        if not self._quiet:
            self._logger.info("token_blacklist.check_cache_link", state="up")

    def down(self, error_type: str) -> None:
        if not self._down:
            self._down = True
            self._logger.warning(
                "token_blacklist.check_cache_link", state="down", error_type=error_type
            )


def _checked(config: object, client: Any) -> CheckCache:
    if not isinstance(config, CheckCache):
        raise TypeError(f"check_cache must be a CheckCache, not {type(config).__name__}")
    if not callable(getattr(client, "get_connection_kwargs", None)):
        raise TypeError("check_cache needs a redis-py client (get_connection_kwargs)")
    return config


def _is_cluster(client: Any) -> bool:
    """A redis-py (or valkey-py) cluster client: it has a nodes manager and a slot map."""
    if isinstance(client, redis.RedisCluster | redis.asyncio.RedisCluster):
        return True
    return hasattr(client, "nodes_manager") and hasattr(client, "get_primaries")


def _link(
    kind: Any, client: Any, config: CheckCache, *, prefix: str,
    registry: CollectorRegistry | None, logger: Any,
) -> tuple[Any, CacheMetrics]:  # fmt: skip
    """The link of ``kind`` (``CacheLink`` or ``AsyncCacheLink``) for ``client``."""
    state = CacheState(_checked(config, client))
    metrics = cache_metrics_for(registry)
    if _is_cluster(client):  # one link per node, one state (see ClusterLinkGroup)
        group = ClusterLinkGroup if kind is CacheLink else AsyncClusterLinkGroup
        return group(client, prefix, state, metrics=metrics, logger=LinkLog(logger)), metrics
    pool = client.connection_pool if sentinel_managed(client) else None
    link = kind(client, prefix, state, metrics=metrics, logger=LinkLog(logger), sentinel_pool=pool)
    return link, metrics


def sync_check_cache(
    transport: Any, client: Any, config: CheckCache | None, *, prefix: str,
    registry: CollectorRegistry | None, logger: Any,
) -> Any:  # fmt: skip
    """``transport`` itself without a cache; else the caching transport, its link started."""
    if config is None:
        return transport
    link, metrics = _link(
        CacheLink, client, config, prefix=prefix, registry=registry, logger=logger
    )
    link.start()
    return CachingTransport(transport, link, metrics)


def async_check_cache(
    transport: Any, client: Any, config: CheckCache | None, *, prefix: str,
    registry: CollectorRegistry | None, logger: Any,
) -> Any:  # fmt: skip
    """As :func:`sync_check_cache`; the link's task starts with the first check."""
    if config is None:
        return transport
    link, metrics = _link(
        AsyncCacheLink, client, config, prefix=prefix, registry=registry, logger=logger
    )
    return AsyncCachingTransport(transport, link, metrics)
