"""Where and how the check cache's invalidation link connects, for both flavours.

The link is a connection of its own (RESP3, ``CLIENT TRACKING ON BCAST``), never one of the
client's pooled connections: it lives as long as the cache, reads push messages the
client's parser would not expect, and must not be handed to a call. It connects to the
same server with the same credentials and TLS settings as the client (``get_connection_kwargs``),
or, for a Sentinel-managed client, to the master the Sentinels name, re-asked every second.
"""

from __future__ import annotations

import inspect
import ssl
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from ._core.commands import pack_command

__all__ = [
    "CLUSTER_HEARTBEAT",
    "CLUSTER_HEARTBEAT_REPLIES",
    "CacheMetrics",
    "ClusterView",
    "LinkTarget",
    "cache_metrics_for",
    "cluster_fingerprint",
    "handshake",
    "nodes_in",
    "target_of",
    "topology_question",
]

PING = pack_command("PING")
ROLE = pack_command("ROLE")
"""Says the node's role (a failover changes two: their links are then lost, the cache
emptied, until re-pointed)."""
CLUSTER_HEARTBEAT = pack_command("CLUSTER", "INFO") + ROLE
"""A cluster link's heartbeat, two replies answered in order as ``PING``'s one is:
``CLUSTER INFO`` (how many nodes the node knows, the cluster's epoch: a node met or
forgotten, a failover or a slot moved changes them, at once on the node that took part)
and ``ROLE``. A change loses the link: the cache is emptied until the links are re-pointed,
so a node that joined cannot take writes the cache does not hear of (the supervisor's own
question comes only every second)."""
CLUSTER_HEARTBEAT_REPLIES = 2
LINK_NAME = "token_blacklist:check_cache"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    host: str
    port: int
    path: str | None
    username: str | None
    password: str | None
    ssl_context: ssl.SSLContext | None
    server_hostname: str | None
    connect_timeout: float


def _default_check_hostname(connection_class: Any) -> bool:
    """redis-py's own default (True in 8.x, False in 5.x), so the link verifies as the pool."""
    try:
        parameter = inspect.signature(connection_class.__init__).parameters["ssl_check_hostname"]
    except (KeyError, TypeError, ValueError):
        return False
    return bool(parameter.default) if parameter.default is not inspect.Parameter.empty else False


def _ssl_context(kwargs: dict[str, Any], connection_class: Any) -> ssl.SSLContext:
    """What the client's SSL connections accept, built as redis-py builds theirs: the
    system's CAs plus any CA file, path or data given; verify flags, lowest version,
    ciphers, client certificate. (Trusting only the given CAs would refuse a server the
    client trusts, and the cache would never serve.)"""
    context = ssl.create_default_context()
    cafile, capath, cadata = (kwargs.get(k) for k in ("ssl_ca_certs", "ssl_ca_path", "ssl_ca_data"))
    if cafile is not None or capath is not None or cadata is not None:
        context.load_verify_locations(cafile=cafile, capath=capath, cadata=cadata)
    for flag in kwargs.get("ssl_include_verify_flags") or ():
        context.verify_flags |= flag
    for flag in kwargs.get("ssl_exclude_verify_flags") or ():
        context.verify_flags &= ~flag
    if kwargs.get("ssl_min_version") is not None:
        context.minimum_version = kwargs["ssl_min_version"]
    if kwargs.get("ssl_ciphers"):
        context.set_ciphers(kwargs["ssl_ciphers"])
    if kwargs.get("ssl_certfile"):
        context.load_cert_chain(
            kwargs["ssl_certfile"], kwargs.get("ssl_keyfile"), kwargs.get("ssl_password")
        )
    requirements = kwargs.get("ssl_cert_reqs", "required")
    if requirements in ("none", ssl.CERT_NONE) or requirements is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        default = _default_check_hostname(connection_class)
        context.check_hostname = bool(kwargs.get("ssl_check_hostname", default))
    return context


def target_of(client: Any, address: tuple[str, int] | None = None) -> LinkTarget:
    """The link's target for ``client`` (``address``: a Sentinel's current master)."""
    kwargs: dict[str, Any] = dict(client.get_connection_kwargs())
    pool = getattr(client, "connection_pool", None)
    connection_class = getattr(pool, "connection_class", None) or kwargs.get("connection_class")
    uses_tls = (
        bool(kwargs.get("ssl"))
        or "ssl_ca_certs" in kwargs
        or "SSL" in getattr(connection_class, "__name__", "")
    )
    provider = kwargs.get("credential_provider")
    username, password = kwargs.get("username"), kwargs.get("password")
    if provider is not None:
        credentials = provider.get_credentials()
        username, password = credentials if len(credentials) == 2 else (None, credentials[0])
    host, port = address or (kwargs.get("host", "localhost"), int(kwargs.get("port", 6379)))
    return LinkTarget(
        host=host,
        port=port,
        path=kwargs.get("path"),
        username=username,
        password=password,
        ssl_context=_ssl_context(kwargs, connection_class) if uses_tls else None,
        server_hostname=host if uses_tls else None,
        connect_timeout=float(kwargs.get("socket_connect_timeout") or 2.0),
    )


def handshake(target: LinkTarget, prefix: str) -> bytes:
    """``HELLO 3`` (with AUTH and a name for CLIENT LIST) and ``CLIENT TRACKING ON BCAST``."""
    hello: list[str] = ["HELLO", "3"]
    if target.password is not None:
        hello += ["AUTH", target.username or "default", target.password]
    hello += ["SETNAME", LINK_NAME.replace(":", "-")]
    return pack_command(*hello) + pack_command(
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", prefix
    )


def topology_question(target: LinkTarget) -> bytes:
    """``HELLO 3`` (with AUTH) and ``CLUSTER NODES``: the cluster's nodes and their roles."""
    hello: list[str] = ["HELLO", "3"]
    if target.password is not None:
        hello += ["AUTH", target.username or "default", target.password]
    return pack_command(*hello) + pack_command("CLUSTER", "NODES")


_GONE = frozenset({"fail", "noaddr"})


def nodes_in(reply: Any, asked: LinkTarget) -> dict[tuple[str, int], str]:
    """Address -> ``"master"`` or ``"replica"`` of every node a ``CLUSTER NODES`` reply lists,
    but those the cluster has failed (a suspected one, ``fail?``, stays: its link says if it
    is alive), a master with no slot included: slots may move to it; so is a node still in
    its handshake (just met: a master until it replicates; slots may move to it as soon as
    it is known). An unknown endpoint (an empty host) is the asked node's host."""
    if not isinstance(reply, bytes):
        raise ValueError("CLUSTER NODES did not answer a string")
    text = reply.decode("utf-8", "replace")
    if text.startswith("txt:"):  # RESP3 verbatim string
        text = text[4:]
    found: dict[tuple[str, int], str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        flags = set(fields[2].split(","))
        endpoint = fields[1].split("@", 1)[0]
        host, _, port = endpoint.rpartition(":")
        if flags & _GONE or not port.isdigit() or int(port) == 0:
            continue
        address = (host.strip("[]") or asked.host, int(port))
        found[address] = "replica" if "slave" in flags else "master"
    return found


def cluster_fingerprint(reply: Any) -> tuple[bytes | None, bytes | None]:
    """``(cluster_known_nodes, cluster_current_epoch)`` of a ``CLUSTER INFO`` reply."""
    text = reply.encode() if isinstance(reply, str) else bytes(reply)
    fields = dict(line.split(b":", 1) for line in text.splitlines() if b":" in line)
    return fields.get(b"cluster_known_nodes"), fields.get(b"cluster_current_epoch")


class ClusterView:
    """A cluster link's first ``CLUSTER INFO`` on its connection; a later one that differs
    loses the link."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: tuple[bytes | None, bytes | None] | None = None

    def changed(self, reply: Any) -> bool:
        """Whether ``reply`` differs from the first one (which it becomes when none yet)."""
        value = cluster_fingerprint(reply)
        if self.seen is None:
            self.seen = value
        return value != self.seen


@dataclass(frozen=True, slots=True)
class CacheMetrics:
    """Children pre-bound: a hit costs one counter increment."""

    hit: Any
    miss: Any
    bypass: Any
    link_up: Any
    heartbeat: Any
    links_lost: Any


_by_registry: dict[int, tuple[CollectorRegistry, CacheMetrics]] = {}


def cache_metrics_for(registry: CollectorRegistry | None) -> CacheMetrics:
    target = REGISTRY if registry is None else registry
    found = _by_registry.get(id(target))
    if found is not None and found[0] is target:
        return found[1]
    checks = Counter(
        "token_blacklist_check_cache",
        "Checks by where the answer came from: hit (memory), miss (Redis, then stored), "
        "bypass (Redis: the invalidation link was not known fresh).",
        ["result"],
        registry=target,
    )
    link_up = Gauge(
        "token_blacklist_check_cache_link_up",
        "1 while the check cache's invalidation link is connected and tracking.",
        registry=target,
    )
    heartbeat = Histogram(
        "token_blacklist_check_cache_heartbeat_seconds",
        "Round trip of the invalidation link's heartbeat: how late an invalidation can be "
        "known to have arrived.",
        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        registry=target,
    )
    lost = Counter(
        "token_blacklist_check_cache_link_losses",
        "Times the invalidation link was lost or in doubt (the cache was emptied).",
        registry=target,
    )
    metrics = CacheMetrics(
        checks.labels("hit"),
        checks.labels("miss"),
        checks.labels("bypass"),
        link_up,
        heartbeat,
        lost,
    )
    _by_registry[id(target)] = (target, metrics)
    return metrics
