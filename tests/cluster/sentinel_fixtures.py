"""A primary, two replicas and a Sentinel on loopback, fresh for each test (about 0.3 s).

Two replicas, as Sentinel deployments run them: after a failover Sentinel re-points the
other replica at the new primary within about a second, so writes can be confirmed by a
replica again (see :mod:`token_blacklist._async.sentinel`). A failover consumes the set, hence
one per test rather than one per session.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio.sentinel
import redis.sentinel

from token_blacklist.server import RedisServer, find_redis_server

__all__ = ["SERVICE", "SentinelSet", "sentinel_set"]

SERVICE = "tokens"
REPLICATION = {"repl-diskless-sync-delay": 0}  # the 5 s default delays every full sync


def _sentinel_binary(directory: Path) -> str:
    """redis-server runs as Sentinel when started under a name containing redis-sentinel."""
    link = directory / "redis-sentinel"
    if not link.exists():
        os.symlink(find_redis_server(), link)
    return str(link)


class SentinelSet:
    def __init__(self, replicas: int = 2) -> None:
        self.servers: list[RedisServer] = []
        self.sentinel: RedisServer | None = None
        self._replicas = replicas
        self._bin_dir = Path(tempfile.mkdtemp(prefix="token-blacklist-sentinel-"))

    def start(self, timeout: float = 15.0) -> SentinelSet:
        primary = RedisServer(REPLICATION).start()
        self.servers.append(primary)
        for _ in range(self._replicas):
            config = {**REPLICATION, "replicaof": f"{primary.host} {primary.port}"}
            self.servers.append(RedisServer(config).start())
        self.sentinel = RedisServer(
            {
                "sentinel": [
                    f"monitor {SERVICE} {primary.host} {primary.port} 1",
                    f"down-after-milliseconds {SERVICE} 1000",
                    f"failover-timeout {SERVICE} 5000",
                ]
            },
            binary=_sentinel_binary(self._bin_dir),
        ).start()
        self._wait_replicas_known(timeout)
        self._wait_replicas_acknowledge(timeout)
        return self

    def _wait_replicas_acknowledge(self, timeout: float) -> None:
        """Until every replica acknowledges a write. A replica fresh from its full sync is
        "online" but acknowledges nothing for up to a second (measured: 0.85 s in one start
        in four), so a first ``WAIT <replicas> 100`` would time out and the library would
        rightly report the writes ``unavailable``."""
        primary = self.servers[0].client(socket_timeout=2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                primary.set("sentinel-set:probe", 1)
                if primary.execute_command("WAIT", self._replicas, 100) >= self._replicas:
                    primary.delete("sentinel-set:probe")
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError("the replicas did not acknowledge a write")
        finally:
            primary.close()

    def _wait_replicas_known(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, OSError):
                replicas = self.admin_sentinel().sentinel_slaves(SERVICE)
                ready = [r for r in replicas if r.get("master-link-status") == "ok"]
                if len(ready) == self._replicas:
                    return
            time.sleep(0.02)
        raise RuntimeError("Sentinel did not see the replicas in sync")

    def stop(self) -> None:
        for server in [*self.servers, *([self.sentinel] if self.sentinel else [])]:
            server.stop()

    # -- access -----------------------------------------------------------------------------
    def admin_sentinel(self) -> redis.Redis:
        assert self.sentinel is not None
        return self.sentinel.client(socket_timeout=2, decode_responses=True)

    def primary(self) -> RedisServer:
        """The server Sentinel names as primary now."""
        _host, port = self.admin_sentinel().sentinel_get_master_addr_by_name(SERVICE)
        return next(s for s in self.servers if s.port == int(port))

    def failover(self, timeout: float = 10.0) -> None:
        """``SENTINEL FAILOVER``, re-asked until Sentinel has a replica it may promote."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.admin_sentinel().execute_command("SENTINEL", "FAILOVER", SERVICE)
                return
            except redis.ResponseError:  # NOGOODSLAVE until its replica INFO is fresh
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _sentinel_kwargs(self, kwargs: dict[str, Any]) -> tuple[list[tuple[str, int]], float]:
        assert self.sentinel is not None
        return [(self.sentinel.host, self.sentinel.port)], kwargs.get("socket_timeout", 1.0)

    def client(self, **kwargs: Any) -> redis.Redis:
        """``Sentinel(...).master_for(...)``: the client applications use."""
        sentinels, timeout = self._sentinel_kwargs(kwargs)
        manager = redis.sentinel.Sentinel(sentinels, socket_timeout=timeout)
        return manager.master_for(SERVICE, **kwargs)

    def async_client(self, **kwargs: Any) -> redis.asyncio.Redis:
        sentinels, timeout = self._sentinel_kwargs(kwargs)
        manager = redis.asyncio.sentinel.Sentinel(sentinels, socket_timeout=timeout)
        return manager.master_for(SERVICE, **kwargs)


@pytest.fixture
def sentinel_set() -> Iterator[SentinelSet]:
    started = SentinelSet().start()
    try:
        yield started
    finally:
        started.stop()
