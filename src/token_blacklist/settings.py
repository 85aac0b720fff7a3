"""A client from a web application's settings, built once per process (framework-neutral).

The Flask and Django integrations read the same mapping (``app.config["TOKEN_BLACKLIST"]``,
``settings.TOKEN_BLACKLIST``); the keys, all optional except where one is needed to reach
Redis::

    REDIS_URL          redis://, rediss:// (TLS) or unix:// URL; user and password may be in it
    CLUSTER            True: the URL names one node of a Redis Cluster
    SENTINELS          [(host, port), ...] of Sentinel processes (instead of REDIS_URL's host)
    SENTINEL_SERVICE   the primary's name at Sentinel (required with SENTINELS)
    SENTINEL_OPTIONS   keyword arguments for the connections to Sentinel itself (default:
                       SOCKET_TIMEOUT and CONNECT_TIMEOUT, no redis-py retries)
    TLS_CA_FILE        CA bundle to verify a rediss:// server
    SOCKET_TIMEOUT     seconds per round trip (0.5), CONNECT_TIMEOUT likewise (0.5)
    REDIS_OPTIONS      further keyword arguments of the redis-py client (username, password...)
    PREFIX             key prefix ("token_blacklist"), the same as the CLI's --prefix
    ON_CHECK_ERROR     "raise" (answer 503 + Retry-After), "deny" (401) or "allow"
    CLIENT_OPTIONS     further keyword arguments of TokenBlacklist (registry, tracer_provider,
                       logger, fast_path, retries...)
    HASH_KEY           HMAC key for hash_token (str or bytes), if the CLI is given one too
    MAX_TOKEN_LIFETIME seconds: the longest lifetime of any token (default: the framework's
                       refresh lifetime plus EXP_LEEWAY); a "log out everywhere" entry's TTL
    EXP_LEEWAY         seconds of leeway the framework grants on exp (default: the framework's)
    CLOCK_SKEW         seconds the issuer's clock may run ahead (1.0)
    FAILURE_STATUS     status of an unconfirmed logout or unanswered check (503)
    RETRY_AFTER        its Retry-After in seconds (5; None: no header)
    HONOUR_REVOKE_ALL  False: checks skip the subject's not-before (one command less)

Unknown keys raise :class:`ValueError`: a misspelt ``ON_CHECK_ERROR`` must not silently
leave the default in force.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.cluster
import redis.retry
import redis.sentinel
from redis.backoff import NoBackoff

from ._async.client import AsyncTokenBlacklist
from ._options import CheckErrorPolicy
from ._sync.client import TokenBlacklist
from .logout import LogoutPolicy
from .web import RevocationRules

__all__ = ["BlacklistSettings", "SharedBlacklist"]

_DEFAULT_LIFETIME = 30 * 24 * 3600


def _number(settings: Mapping[str, Any], key: str, default: float) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"TOKEN_BLACKLIST[{key!r}] must be a non-negative number of seconds")
    return float(value)


def _int(settings: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = settings.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"TOKEN_BLACKLIST[{key!r}] must be a non-negative int")
    return value


def _mapping(settings: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = settings.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"TOKEN_BLACKLIST[{key!r}] must be a mapping of keyword arguments")
    return dict(value)


@dataclass(frozen=True)
class BlacklistSettings:
    """Validated settings: how to reach Redis, the client's options and the
    :class:`RevocationRules`. Build with :meth:`from_mapping`."""

    url: str | None
    cluster: bool
    sentinels: tuple[tuple[str, int], ...]
    sentinel_service: str | None
    sentinel_options: dict[str, Any] = field(repr=False)
    redis_options: dict[str, Any] = field(repr=False)
    prefix: str
    on_check_error: CheckErrorPolicy
    client_options: dict[str, Any] = field(repr=False)
    rules: RevocationRules

    KEYS = frozenset(
        {
            "REDIS_URL",
            "CLUSTER",
            "SENTINELS",
            "SENTINEL_SERVICE",
            "SENTINEL_OPTIONS",
            "TLS_CA_FILE",
            "SOCKET_TIMEOUT",
            "CONNECT_TIMEOUT",
            "REDIS_OPTIONS",
            "PREFIX",
            "ON_CHECK_ERROR",
            "CLIENT_OPTIONS",
            "HASH_KEY",
            "MAX_TOKEN_LIFETIME",
            "EXP_LEEWAY",
            "CLOCK_SKEW",
            "FAILURE_STATUS",
            "RETRY_AFTER",
            "HONOUR_REVOKE_ALL",
        }
    )

    @classmethod
    def from_mapping(
        cls,
        settings: Mapping[str, Any],
        *,
        max_token_lifetime: int = _DEFAULT_LIFETIME,
        exp_leeway: int = 0,
        subject_claim: str = "sub",
    ) -> BlacklistSettings:
        """Validate ``settings``; the keyword arguments are the framework's defaults."""
        unknown = sorted(set(settings) - cls.KEYS)
        if unknown:
            raise ValueError(f"unknown TOKEN_BLACKLIST settings: {', '.join(unknown)}")
        url = settings.get("REDIS_URL")
        sentinels = sentinel_addresses(settings.get("SENTINELS") or ())
        service = settings.get("SENTINEL_SERVICE")
        if sentinels and not service:
            raise ValueError("TOKEN_BLACKLIST['SENTINELS'] needs 'SENTINEL_SERVICE'")
        if not url and not sentinels:
            raise ValueError("TOKEN_BLACKLIST needs 'REDIS_URL' (or 'SENTINELS')")
        if url is not None and not str(url).startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "TOKEN_BLACKLIST['REDIS_URL'] must be a redis://, rediss:// or unix:// URL"
            )
        policy_name = settings.get("ON_CHECK_ERROR", "raise")
        if policy_name not in get_args(CheckErrorPolicy):
            raise ValueError("TOKEN_BLACKLIST['ON_CHECK_ERROR'] must be raise, deny or allow")
        redis_options = {
            "socket_timeout": _number(settings, "SOCKET_TIMEOUT", 0.5),
            "socket_connect_timeout": _number(settings, "CONNECT_TIMEOUT", 0.5),
            **_mapping(settings, "REDIS_OPTIONS"),
        }
        if settings.get("TLS_CA_FILE"):
            if not str(url or "").startswith("rediss://"):
                raise ValueError("TOKEN_BLACKLIST['TLS_CA_FILE'] needs a rediss:// REDIS_URL")
            redis_options["ssl_ca_certs"] = settings["TLS_CA_FILE"]
        hash_key = settings.get("HASH_KEY")
        if isinstance(hash_key, str):
            hash_key = hash_key.encode()
        leeway = _int(settings, "EXP_LEEWAY", exp_leeway) or 0
        # A token is accepted until its exp plus the leeway: its subject's not-before too.
        lifetime = _int(settings, "MAX_TOKEN_LIFETIME", max_token_lifetime + leeway)
        policy = LogoutPolicy(
            failure_status=_int(settings, "FAILURE_STATUS", 503) or 503,
            retry_after=_int(settings, "RETRY_AFTER", 5),
            exp_leeway=leeway,
        )
        rules = RevocationRules(
            hash_key=hash_key,
            max_token_lifetime=lifetime or max_token_lifetime,
            clock_skew=_number(settings, "CLOCK_SKEW", 1.0),
            policy=policy,
            honour_revoke_all=bool(settings.get("HONOUR_REVOKE_ALL", True)),
            subject_claim=subject_claim,
        )
        return cls(
            url=None if url is None else str(url),
            cluster=bool(settings.get("CLUSTER", False)),
            sentinels=sentinels,
            sentinel_service=None if service is None else str(service),
            sentinel_options=_mapping(settings, "SENTINEL_OPTIONS"),
            redis_options=redis_options,
            prefix=str(settings.get("PREFIX", "token_blacklist")),
            on_check_error=policy_name,
            client_options=_mapping(settings, "CLIENT_OPTIONS"),
            rules=rules,
        )

    def sentinel_kwargs(self, retry: Any) -> dict[str, Any]:
        """Options of the connections to Sentinel: the ``socket_*`` options of the Redis
        ones (the timeouts) and ``retry`` (none), then ``SENTINEL_OPTIONS``. Without the
        timeouts a hung Sentinel hangs every new connection to the primary; with redis-py's
        own retries (3, with backoff, since 6.0) it costs about 9.5 s at a 0.5 s timeout
        before the next Sentinel is asked (the manager asks each in turn, and the library
        makes the retries)."""
        timeouts = {k: v for k, v in self.redis_options.items() if k.startswith("socket_")}
        return {**timeouts, "retry": retry, **self.sentinel_options}

    def redis_client(self) -> Any:
        """A new redis-py client (standalone, cluster or Sentinel-managed primary)."""
        if self.sentinels:
            sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
                list(self.sentinels),
                sentinel_kwargs=self.sentinel_kwargs(redis.retry.Retry(NoBackoff(), 0)),
            )
            assert self.sentinel_service is not None
            return sentinel.master_for(  # type: ignore[no-untyped-call,unused-ignore]
                self.sentinel_service, **self.redis_options
            )
        assert self.url is not None
        if self.cluster:
            return redis.cluster.RedisCluster.from_url(
                self.url, require_full_coverage=False, **self.redis_options
            )
        return redis.Redis.from_url(self.url, **self.redis_options)

    def async_redis_client(self) -> Any:
        """A new redis-py asyncio client, for the running event loop."""
        if self.sentinels:
            sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
                list(self.sentinels),
                sentinel_kwargs=self.sentinel_kwargs(redis.asyncio.retry.Retry(NoBackoff(), 0)),
            )
            assert self.sentinel_service is not None
            return sentinel.master_for(self.sentinel_service, **self.redis_options)
        assert self.url is not None
        if self.cluster:
            return redis.asyncio.cluster.RedisCluster.from_url(
                self.url, require_full_coverage=False, **self.redis_options
            )
        return redis.asyncio.Redis.from_url(self.url, **self.redis_options)

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "on_check_error": self.on_check_error,
            **self.client_options,
        }


class SharedBlacklist:
    """The process's clients, built from settings on first use.

    :meth:`get` returns one :class:`TokenBlacklist` shared by every thread (redis-py pools
    its connections); :meth:`aget` one :class:`AsyncTokenBlacklist` per event loop, since
    an asyncio connection belongs to the loop that opened it. ``load`` reads the settings;
    it is called again after :meth:`reset` (e.g. when a test overrides the settings).
    """

    def __init__(self, load: Callable[[], BlacklistSettings]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._settings: BlacklistSettings | None = None
        self._sync: TokenBlacklist | None = None
        self._redis: Any = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncTokenBlacklist]
        self._async = weakref.WeakKeyDictionary()

    @property
    def settings(self) -> BlacklistSettings:
        settings = self._settings
        if settings is None:
            with self._lock:
                if self._settings is None:
                    self._settings = self._load()
                settings = self._settings
        return settings

    @property
    def rules(self) -> RevocationRules:
        return self.settings.rules

    def get(self) -> TokenBlacklist:
        client = self._sync
        if client is None:
            settings = self.settings
            with self._lock:
                if self._sync is None:
                    self._redis = settings.redis_client()
                    self._sync = TokenBlacklist(self._redis, **settings.client_kwargs())
                client = self._sync
        return client

    async def aget(self) -> AsyncTokenBlacklist:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            settings = self.settings
            with self._lock:
                client = self._async.get(loop)
                if client is None:
                    client = AsyncTokenBlacklist(
                        settings.async_redis_client(), **settings.client_kwargs()
                    )
                    self._async[loop] = client
        return client

    def reset(self) -> None:
        """Forget the settings and the clients (the sync client's connections are closed;
        asyncio ones close with their loop)."""
        with self._lock:
            redis_client, self._redis = self._redis, None
            self._settings, self._sync = None, None
            self._async = weakref.WeakKeyDictionary()
        if redis_client is not None:
            redis_client.close()


def sentinel_addresses(value: Sequence[Any]) -> tuple[tuple[str, int], ...]:
    """``[("host", port), ...]`` or ``["host:port", ...]`` -> address tuples."""
    addresses = []
    for item in value:
        if isinstance(item, str):
            host, _, port = item.rpartition(":")
            addresses.append((host, int(port)))
        else:
            host, port = item
            addresses.append((str(host), int(port)))
    return tuple(addresses)
