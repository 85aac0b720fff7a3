"""Real faults for the demo, injected the way production meets them, then undone.

On the embedded server (which the demo owns) three faults rotate: an ACL rule that denies
the application user half of the key space, a ``maxmemory`` limit just above the memory in
use (writes soon fail with OOM), and a paused server (SIGSTOP: replies time out). Against
a server given with ``--redis-url`` nothing on the server is changed: the only fault is a
stall of the demo's own connections, in a loopback proxy the demo owns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import redis

from ...server import RedisServer
from ..stall_proxy import StallProxy

__all__ = [
    "AclFault",
    "Fault",
    "FaultSchedule",
    "MemoryFault",
    "PauseFault",
    "StallFault",
]

PAUSE_LIMIT = 3.0
"""Seconds: a pause longer than this only makes the demo look frozen."""


class Fault(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def limit(self, duration: float) -> float:
        """How long this fault may last when the schedule asks for ``duration``."""
        ...


@dataclass
class AclFault:
    """The app user may write only ``PREFIX:[0-7]*``: about half of the hex hashes."""

    admin: redis.Redis
    user: str
    prefix: str
    name: str = "acl"

    def _keys(self, pattern: str) -> None:
        self.admin.execute_command("ACL", "SETUSER", self.user, "resetkeys", pattern)  # type: ignore[no-untyped-call]

    def start(self) -> None:
        self._keys(f"~{self.prefix}:[0-7]*")

    def stop(self) -> None:
        self._keys(f"~{self.prefix}:*")

    def limit(self, duration: float) -> float:
        return duration


@dataclass
class MemoryFault:
    """``maxmemory`` a little above what is used (noeviction): writes pass, then fail OOM."""

    admin: redis.Redis
    headroom: int
    name: str = "maxmemory"

    def start(self) -> None:
        used = int(self.admin.info("memory")["used_memory"])
        self.admin.config_set("maxmemory-policy", "noeviction")
        self.admin.config_set("maxmemory", used + self.headroom)

    def stop(self) -> None:
        self.admin.config_set("maxmemory", 0)

    def limit(self, duration: float) -> float:
        return duration


@dataclass
class PauseFault:
    """SIGSTOP the embedded server: connections stay open and nothing answers."""

    server: RedisServer
    name: str = "pause"

    def start(self) -> None:
        self.server.pause()

    def stop(self) -> None:
        self.server.resume()

    def limit(self, duration: float) -> float:
        return min(duration, PAUSE_LIMIT)


@dataclass
class StallFault:
    """The demo's own proxy stops forwarding: only the demo's connections time out."""

    proxy: StallProxy
    name: str = "stall"

    def start(self) -> None:
        self.proxy.stall()

    def stop(self) -> None:
        self.proxy.resume()

    def limit(self, duration: float) -> float:
        return min(duration, PAUSE_LIMIT)


@dataclass
class FaultSchedule:
    """Every ``interval`` seconds the next fault in turn starts, for ``duration`` seconds."""

    faults: list[Fault]
    interval: float
    duration: float
    until: float = float("inf")
    """Seconds after the start when no new fault starts (so alerts can be seen resolving)."""
    active: Fault | None = None
    injected: dict[str, int] = field(default_factory=dict)
    _next_index: int = 0
    _next_start: float = 0.0
    _ends_at: float = 0.0
    _last_start: float = 0.0

    def __post_init__(self) -> None:
        started = time.monotonic()
        self._next_start = started + self.interval
        self._last_start = started + self.until

    def tick(self, now: float) -> None:
        """Start or stop a fault when its time has come (called from the traffic loop)."""
        if self.active is not None and now >= self._ends_at:
            self.stop()
        if self.active is None and self.faults and self._next_start <= now < self._last_start:
            fault = self.faults[self._next_index % len(self.faults)]
            self._next_index += 1
            fault.start()
            self.active = fault
            self.injected[fault.name] = self.injected.get(fault.name, 0) + 1
            self._ends_at = now + fault.limit(self.duration)
            self._next_start = now + self.interval

    def stop(self) -> None:
        """Undo the active fault, if any (also on exit)."""
        fault, self.active = self.active, None
        if fault is not None:
            fault.stop()

    def seconds_to_next(self, now: float) -> float:
        """Until the active fault ends or the next one starts (inf when none will)."""
        if self.active is None and self._next_start >= self._last_start:
            return float("inf")
        return max(0.0, (self._ends_at if self.active else self._next_start) - now)
