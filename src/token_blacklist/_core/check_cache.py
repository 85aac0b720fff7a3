"""The check cache's state, sans I/O: what may be answered from memory, and when.

Redis keeps the cache true by *server-assisted client-side caching in broadcasting mode*:
a dedicated connection (the link, in ``.._cache_link``) runs ``CLIENT TRACKING ON BCAST
PREFIX <prefix>:``, and Redis pushes an ``invalidate`` message on it for every key of the
prefix that any client writes, expires or evicts. This module decides, from what the link
reports, whether an answer may come from memory:

* **Freshness.** The link sends a heartbeat (``PING``) every fraction of
  ``max_staleness``. Replies on one connection come in order, so when the reply to a ping
  sent at ``t`` arrives, every invalidation of a write Redis executed before it read that
  ping has been applied. The cache is then *fresh as of t*; it answers only while
  ``now - t <= max_staleness``. A write acknowledged before ``now - max_staleness`` was
  executed before ``t``: its invalidation is in. Any doubt (no reply, a reconnect, a reader
  that falls behind, a flush) empties the cache; the checks then go to Redis.
* **No stale fill.** A check that misses reads Redis and stores the answer. An invalidation
  of that key can arrive between the read and the store: the answer is stored only if no
  invalidation of its keys (nor a flush, nor a new link) came since the read began
  (:meth:`CacheState.ticket`).

Entries hold the raw replies (``EXISTS``'s integer, ``ZSCORE``'s score or nil) of keys that
are revoked and keys that are not, in an LRU of at most ``max_entries`` keys.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .validation import check_int, check_number

__all__ = ["CacheMember", "CacheState", "CheckCache", "Push", "Resp3Reader", "RespError"]

_RECENT = 4096
"""Invalidations remembered to decide whether a read that began earlier may be stored."""


@dataclass(frozen=True, slots=True)
class CheckCache:
    """Answer checks from process memory, kept true by Redis-pushed invalidation.

    ``max_entries`` bounds the memory (LRU over revoked and not-revoked keys alike);
    ``max_staleness`` (seconds) is the promise: a revocation written by any process is seen
    by this process's checks within it, and when that cannot be known (the invalidation
    link is down, paused or late) every check goes to Redis. ``heartbeat`` is the link's
    ping interval (default: a quarter of ``max_staleness``).
    """

    max_entries: int = 100_000
    max_staleness: float = 0.1
    heartbeat: float | None = None

    def __post_init__(self) -> None:
        check_int("max_entries", self.max_entries, 1, 100_000_000)
        check_number("max_staleness", self.max_staleness, 0.005, 60.0)
        if self.heartbeat is not None:
            check_number("heartbeat", self.heartbeat, 0.001, self.max_staleness / 2)

    @property
    def ping_interval(self) -> float:
        return self.heartbeat if self.heartbeat is not None else self.max_staleness / 4


_MISS = object()


class CacheState:
    """Entries, freshness and invalidation sequence; safe from several threads."""

    def __init__(self, config: CheckCache) -> None:
        self.config = config
        self.max_staleness = config.max_staleness
        self.entries: OrderedDict[str, Any] = OrderedDict()
        """Read without the lock by the shells' hit shortcut (single dict operations)."""
        self._lock = threading.Lock()
        self._seq = 0
        self._recent: deque[tuple[int, str | None]] = deque(maxlen=_RECENT)
        self._epoch = 0
        self.fresh_as_of = -math.inf
        self.link_up = False
        self._members: list[CacheMember] = []

    # -- the checks' side ---------------------------------------------------------------
    def serving(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return now - self.fresh_as_of <= self.config.max_staleness

    def get(self, keys: Sequence[str]) -> list[Any] | None:
        """The cached replies of every key, or ``None`` (a miss, or not serving)."""
        if time.monotonic() - self.fresh_as_of > self.config.max_staleness:
            return None
        entries = self.entries
        with self._lock:
            found = [entries.get(key, _MISS) for key in keys]
            if _MISS in found:
                return None
            for key in keys:
                entries.move_to_end(key)
        return found

    def ticket(self) -> tuple[int, int]:
        """Taken before a read from Redis; :meth:`put` stores its answer only if still valid."""
        return self._epoch, self._seq

    def put(self, ticket: tuple[int, int], keys: Sequence[str], replies: Sequence[Any]) -> bool:
        epoch, seq = ticket
        with self._lock:
            if epoch != self._epoch or not self.link_up:
                return False
            if seq != self._seq:
                # Invalidations came during the read: store only if none touched these keys
                # and the memory of them reaches back to the read.
                recent = self._recent
                if not recent or recent[0][0] > seq + 1:
                    return False
                wanted = set(keys)
                for number, key in reversed(recent):
                    if number <= seq:
                        break
                    if key is None or key in wanted:
                        return False
            entries = self.entries
            for key, reply in zip(keys, replies, strict=True):
                entries[key] = reply
                entries.move_to_end(key)
            while len(entries) > self.config.max_entries:
                entries.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self.entries)

    # -- the link's side ----------------------------------------------------------------
    def invalidate(self, keys: Sequence[str] | None) -> None:
        """Redis says these keys changed (``None``: everything, after a flush)."""
        with self._lock:
            if keys is None:
                self._seq += 1
                self._recent.append((self._seq, None))
                self.entries.clear()
                return
            for key in keys:
                self._seq += 1
                self._recent.append((self._seq, key))
                self.entries.pop(key, None)

    def connected(self) -> None:
        """Tracking is on, on a new connection: start empty, serve after the first ping."""
        with self._lock:
            self._epoch += 1
            self.entries.clear()
            self.fresh_as_of = -math.inf
            self.link_up = True

    def heartbeat(self, sent_at: float) -> None:
        """The reply to a ping sent at ``sent_at`` (monotonic) arrived."""
        self.fresh_as_of = max(self.fresh_as_of, sent_at)

    def lost(self) -> None:
        """The link is down or in doubt: forget everything, answer nothing."""
        with self._lock:
            self._epoch += 1
            self.fresh_as_of = -math.inf
            self.entries.clear()
            self.link_up = False

    def staleness(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return now - self.fresh_as_of

    # -- a group of links (Redis Cluster: one per master) --------------------------------
    def join(self, on_lost: Any = None) -> CacheMember:
        """A new link of the group: until it is up and fresh too, nothing is served."""
        member = CacheMember(self, on_lost)
        with self._lock:
            self._members.append(member)
            self._reset_locked()
        return member

    def leave(self, member: CacheMember) -> None:
        """A link that left the group (its node is no longer a master): start empty."""
        with self._lock:
            if member in self._members:
                self._members.remove(member)
            self._reset_locked()

    def reset(self) -> None:
        """Forget everything (the topology changed); serve after every link's next ping."""
        with self._lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self._epoch += 1
        self.entries.clear()
        self.fresh_as_of = -math.inf
        for member in self._members:
            member.fresh_as_of = -math.inf
        self.link_up = bool(self._members) and all(m.link_up for m in self._members)

    def _member_connected(self, member: CacheMember) -> None:
        with self._lock:
            member.link_up = True
            self._reset_locked()

    def _member_heartbeat(self, member: CacheMember, sent_at: float) -> None:
        with self._lock:
            member.fresh_as_of = max(member.fresh_as_of, sent_at)
            members = self._members
            if member in members and members and all(m.link_up for m in members):
                # Fresh as of the oldest of the links' newest answered pings.
                self.fresh_as_of = min(m.fresh_as_of for m in members)

    def _member_lost(self, member: CacheMember) -> None:
        with self._lock:
            member.link_up = False
            self._reset_locked()
        if member.on_lost is not None:
            member.on_lost()


class CacheMember:
    """One link's view of a :class:`CacheState` shared by a group of links.

    It offers the link what the state does (``invalidate``, ``connected``, ``heartbeat``,
    ``lost``, ``link_up``, ``config``); the shared state serves only while every member is
    up, and is fresh as of the oldest member's newest answered ping. Any member's
    connection or loss empties the shared cache.
    """

    def __init__(self, state: CacheState, on_lost: Any = None) -> None:
        self.shared = state
        self.config = state.config
        self.max_staleness = state.max_staleness
        self.on_lost = on_lost
        self.link_up = False
        self.fresh_as_of = -math.inf

    def invalidate(self, keys: Sequence[str] | None) -> None:
        self.shared.invalidate(keys)

    def connected(self) -> None:
        self.shared._member_connected(self)

    def heartbeat(self, sent_at: float) -> None:
        self.shared._member_heartbeat(self, sent_at)

    def lost(self) -> None:
        self.shared._member_lost(self)


# -- a RESP3 reader for the link (push messages, pings), sans I/O -------------------------
class RespError(Exception):
    """An error reply (its text stays inside the link: it may name keys)."""


class Push(list[Any]):
    """A RESP3 push message (``>``), e.g. ``[b"invalidate", [key, ...]]``."""


class _Incomplete(Exception):
    pass


NEED_DATA = object()


class Resp3Reader:
    """Incremental parser: :meth:`feed` bytes, then :meth:`gets` until ``NEED_DATA``."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def gets(self) -> Any:
        try:
            value, end = self._parse(0)
        except _Incomplete:
            return NEED_DATA
        del self._buf[:end]
        return value

    def _line(self, pos: int) -> tuple[bytes, int]:
        end = self._buf.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        return bytes(self._buf[pos:end]), end + 2

    def _parse(self, pos: int) -> tuple[Any, int]:  # noqa: PLR0911, PLR0912 - one case a type
        if pos >= len(self._buf):
            raise _Incomplete
        kind = bytes(self._buf[pos : pos + 1])
        line, pos = self._line(pos + 1)
        if kind == b"+":
            return line, pos
        if kind in {b"-", b"!"}:
            if kind == b"!":
                return self._blob(int(line), pos, error=True)
            return RespError(line.split(b" ", 1)[0].decode("ascii", "replace")), pos
        if kind == b":":
            return int(line), pos
        if kind == b"_":
            return None, pos
        if kind == b",":
            return float(line), pos
        if kind == b"#":
            return line == b"t", pos
        if kind in (b"$", b"=", b"("):
            if kind == b"(":
                return int(line), pos
            return self._blob(int(line), pos)
        if kind in (b"*", b"~", b">"):
            count = int(line)
            if count < 0:
                return None, pos
            items: list[Any] = []
            for _ in range(count):
                item, pos = self._parse(pos)
                items.append(item)
            return (Push(items) if kind == b">" else items), pos
        if kind in (b"%", b"|"):
            pairs: dict[Any, Any] = {}
            for _ in range(int(line)):
                key, pos = self._parse(pos)
                value, pos = self._parse(pos)
                pairs[key if not isinstance(key, list) else tuple(key)] = value
            if kind == b"|":  # an attribute: the reply follows it
                return self._parse(pos)
            return pairs, pos
        raise ValueError(f"unknown RESP3 type byte {kind!r}")

    def _blob(self, size: int, pos: int, *, error: bool = False) -> tuple[Any, int]:
        if size < 0:
            return None, pos
        end = pos + size
        if end + 2 > len(self._buf):
            raise _Incomplete
        data = bytes(self._buf[pos:end])
        if error:
            return RespError(data.split(b" ", 1)[0].decode("ascii", "replace")), end + 2
        return data, end + 2
