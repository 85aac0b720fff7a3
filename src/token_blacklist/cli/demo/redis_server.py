"""The Redis the demo talks to: a private embedded server (the default) or a foreign one.

The embedded server runs an application user limited to the demo's prefix and an admin
(default) user the demo uses to inject faults. A foreign server given with ``--redis-url``
is never reconfigured; the demo reaches it through its own stall proxy (plain ``redis://``
only) so that the one fault it injects touches nothing but the demo's connections.
"""

from __future__ import annotations

import argparse
import secrets
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ...server import RedisServer
from ..connection import connect, describe_url
from ..stall_proxy import StallProxy
from .faults import AclFault, Fault, MemoryFault, PauseFault, StallFault

__all__ = ["DemoRedis", "open_demo_redis"]

APP_USER = "token-blacklist-demo"
MEMORY_HEADROOM_PER_TOKEN = 120
"""Bytes Redis needs per revocation key (key, value, expiry), roughly."""


@dataclass
class DemoRedis:
    client: Any
    where: str
    faults: list[Fault] = field(default_factory=list)
    note: str = ""


def _embedded(args: argparse.Namespace, stack: ExitStack) -> DemoRedis:
    password = secrets.token_urlsafe(18)  # lives only in this process and the temp redis.conf
    server = RedisServer(
        {
            "user": [
                "default on nopass ~* &* +@all",
                f"{APP_USER} on >{password} ~{args.prefix}:* resetchannels "
                "+@connection +set +expire +exists +ping",
            ]
        }
    )
    server.start()
    stack.callback(server.stop)
    admin = server.client(socket_timeout=5)
    stack.callback(admin.close)
    client = server.client(
        username=APP_USER,
        password=password,
        socket_timeout=args.socket_timeout,
        socket_connect_timeout=args.connect_timeout,
        retry=Retry(NoBackoff(), 0),  # the library makes the retries: one budget, not two
    )
    stack.callback(client.close)
    # Headroom for about half a fault's worth of traffic: writes pass, then fail with OOM.
    headroom = int(args.rate * 2 * args.fault_duration / 2 * MEMORY_HEADROOM_PER_TOKEN)
    faults: list[Fault] = [
        AclFault(admin, APP_USER, args.prefix),
        MemoryFault(admin, max(headroom, 16_384)),
        PauseFault(server),
    ]
    pid = server.process.pid if server.process else 0
    where = f"embedded redis-server (pid {pid}) on {server.url}, stopped on exit"
    return DemoRedis(client, where, faults)


def _through_proxy(url: str, stack: ExitStack) -> tuple[str, StallProxy | None]:
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        return url, None
    proxy = StallProxy(parts.hostname, parts.port or 6379)
    stack.callback(proxy.close)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc)), proxy


def _foreign(args: argparse.Namespace, stack: ExitStack) -> DemoRedis:
    url = args.redis_url
    proxy = None
    if not args.cluster:
        url, proxy = _through_proxy(url, stack)
    client = connect(args, url)
    stack.callback(client.close)
    where = f"{describe_url(args.redis_url)} (only keys {args.prefix}:* are written)"
    if proxy is None:
        return DemoRedis(client, where, [], "no fault injection for rediss:// or --cluster")
    return DemoRedis(client, where, [StallFault(proxy)], "faults: a stall of the demo's own link")


def open_demo_redis(args: argparse.Namespace, stack: ExitStack) -> DemoRedis:
    """Start (or reach) the demo's Redis; everything is undone when ``stack`` closes."""
    if args.redis_url:
        return _foreign(args, stack)
    return _embedded(args, stack)


def ping(client: Any) -> None:
    """Raise when the demo's Redis is not usable at start."""
    with suppress(redis.exceptions.NoPermissionError):  # PING denied says nothing of SET
        client.ping()
