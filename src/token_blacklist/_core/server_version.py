"""Sans-IO: which server versions the library needs, read from ``INFO server``.

Redis 7.0 brought ``EXPIRE ... NX|GT``, which ``revoke_all`` needs (its subject key's
expiry may only grow) and so does re-revoking a hash that is already blacklisted
(``EXPIRE key ttl GT``). Redis 6.2 has ``ZADD GT``, ``SET ... NX`` and everything else.
Valkey reports ``redis_version`` as the Redis version it is compatible with (7.2.4 for
every Valkey so far) and its own in ``valkey_version``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["EXPIRE_OPTIONS", "ServerVersion", "parse_version", "server_version"]

EXPIRE_OPTIONS = (7, 0)
"""The Redis version of ``EXPIRE ... NX|GT`` (``revoke_all``, re-revocations)."""


def parse_version(text: object) -> tuple[int, ...] | None:
    """``"6.2.14"`` -> ``(6, 2, 14)``; None for anything else."""
    if not isinstance(text, str | bytes):
        return None
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    parts = text.split(".")
    if not parts or not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


class ServerVersion:
    """What one server says it is: ``name`` (redis, valkey) and the versions."""

    __slots__ = ("compatible", "name", "own")

    def __init__(self, name: str, own: tuple[int, ...], compatible: tuple[int, ...]) -> None:
        self.name = name
        self.own = own  # the server's own version (Valkey 9.1.2)
        self.compatible = compatible  # the Redis version it implements (7.2.4 for Valkey)

    def __str__(self) -> str:
        return f"{self.name} {'.'.join(map(str, self.own))}"

    def at_least(self, needed: tuple[int, ...]) -> bool:
        return self.compatible >= needed


def server_version(info: Mapping[str, object]) -> ServerVersion | None:
    """From an ``INFO server`` reply as redis-py parses it (or a cluster client's mapping
    of node -> reply: then the lowest node counts). None when it says no version."""
    if info and all(isinstance(value, Mapping) for value in info.values()):
        found = [server_version(node) for node in info.values() if isinstance(node, Mapping)]
        known = [version for version in found if version is not None]
        return min(known, key=lambda v: v.compatible) if known else None
    compatible = parse_version(info.get("redis_version"))
    if compatible is None:
        return None
    valkey = parse_version(info.get("valkey_version"))
    if valkey is not None:
        return ServerVersion("valkey", valkey, compatible)
    name = info.get("server_name")
    return ServerVersion(name if isinstance(name, str) else "redis", compatible, compatible)
