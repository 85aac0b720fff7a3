"""Sans-IO decisions of the Sentinel transport: which replicas a write must reach, and what
an unconfirmed ``WAIT`` does to the writes before it (see :mod:`token_blacklist._async.sentinel`
for why every write chunk ends with ``WAIT``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.exceptions as rex

from .commands import Command, wait_command

__all__ = [
    "REPLICAS_REFRESH",
    "WAIT_TIMEOUT_MS",
    "ReplicaCount",
    "confirm",
    "confirm_replicated",
    "not_replicated",
    "with_wait",
]

REPLICAS_REFRESH = 1.0
"""Seconds between two questions to Sentinel about the healthy replicas."""
WAIT_TIMEOUT_MS = 100
"""How long a chunk waits for that confirmation (a healthy replica answers in about 1 ms)."""


def not_replicated() -> rex.ResponseError:
    """The reply of a write the primary applied but no replica confirmed in time.

    Classified by its status word like Redis' own ``min-replicas-to-write`` refusal.
    """
    return rex.ResponseError("NOREPLICAS write not confirmed by a replica in time")


def confirm_replicated(replies: Sequence[object], replicas: int) -> tuple[list[object], bool]:
    """Split ``[*writes, WAIT reply]``: the writes' replies, and whether they count.

    Unconfirmed, every acknowledged write becomes :func:`not_replicated`; error replies
    stay as they were.
    """
    *writes, waited = replies
    if isinstance(waited, int) and not isinstance(waited, bool) and waited >= replicas:
        return writes, True
    return [r if isinstance(r, BaseException) else not_replicated() for r in writes], False


class ReplicaCount:
    """How many replicas must confirm a chunk: the healthy ones Sentinel reports, asked at
    most once a second and again after any unconfirmed chunk (a failover may be under way).
    Until Sentinel has answered once, one replica."""

    def __init__(self) -> None:
        self.value = 1
        self._asked = float("-inf")

    def due(self) -> bool:
        return time.monotonic() - self._asked >= REPLICAS_REFRESH

    def update(self, replicas: Sequence[object] | None) -> None:
        self._asked = time.monotonic()
        if replicas is not None:  # Sentinel unreachable: keep the last answer
            self.value = len(replicas)

    def expire(self) -> None:
        self._asked = float("-inf")


def with_wait(commands: list[Command], replicas: int) -> list[Command]:
    """The writes, then ``WAIT`` for ``replicas`` (none when there is no replica)."""
    if replicas == 0:  # nothing to confirm with, and nothing Sentinel could promote
        return commands
    return [*commands, wait_command(replicas, WAIT_TIMEOUT_MS)]


def confirm(replies: Sequence[object], replicas: int) -> tuple[list[object], bool]:
    """The replies of :func:`with_wait` 's commands -> the writes' replies, and whether
    they count."""
    return confirm_replicated(replies, replicas) if replicas else (list(replies), True)
