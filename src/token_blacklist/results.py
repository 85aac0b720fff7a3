"""Plain data: what a call asked for, what Redis confirmed, and why the rest was not.

Nothing here talks to Redis or to telemetry; the exceptions are in :mod:`.errors`. The
texts of these objects (``repr``, ``str``) carry counts and reasons only, never a hash, a
key or a Redis message, so they are safe to log.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import PartialBlacklistError, RevokeAllError

__all__ = [
    "NO_ANSWER",
    "UNREACHABLE",
    "BlacklistResult",
    "FailureReason",
    "RevokeAllResult",
]


class FailureReason(enum.StrEnum):
    """Why a token was not confirmed as blacklisted.

    A small closed set: the values double as the ``reason`` label of
    ``token_blacklist_token_failures_total`` and never grow with traffic.
    """

    OOM = "oom"
    """Redis refused the write: ``maxmemory`` reached with a ``noeviction`` policy."""
    NOPERM = "noperm"
    """An ACL rule denies the command or the key prefix to this user."""
    READONLY = "readonly"
    """The endpoint is a replica (for instance after a failover)."""
    AUTH = "auth"
    """NOAUTH / WRONGPASS: the connection is not authenticated."""
    CONNECTION = "connection"
    """The connection was refused, reset or lost; the write is not confirmed."""
    TIMEOUT = "timeout"
    """No reply in time (a paused or overloaded server); the write is not confirmed."""
    CLUSTER_DOWN = "cluster_down"
    """CLUSTERDOWN / MASTERDOWN / TRYAGAIN, or the node owning the slot is unreachable."""
    UNAVAILABLE = "unavailable"
    """LOADING (the dataset is being loaded) or BUSY (a script is running)."""
    OTHER = "other"
    """Any other error reply (WRONGTYPE on a foreign key, an unexpected reply...)."""


UNREACHABLE: frozenset[FailureReason] = frozenset({FailureReason.CONNECTION, FailureReason.TIMEOUT})
"""Redis is plainly down: the command never got an answer. Once a server's whole share of a
round trip failed for one of these, the core stops sending to it for the rest of the call
(and ``blacklist_stream`` for the rest of the stream)."""

NO_ANSWER: tuple[FailureReason, ...] = (
    FailureReason.CONNECTION,
    FailureReason.TIMEOUT,
    FailureReason.AUTH,
    FailureReason.CLUSTER_DOWN,
    FailureReason.UNAVAILABLE,
)
"""Redis did not answer the command (as opposed to answering no: OOM, NOPERM, OTHER...).
The dashboards' "unreachable" panels and alerts select these reasons, in this order."""


@dataclass(frozen=True, slots=True, repr=False)
class BlacklistResult:
    """The exact outcome of one ``blacklist_tokens`` call.

    Invariant: every hash counted in ``succeeded`` was held by Redis for at least its TTL
    when Redis acknowledged it, so ``succeeded`` never exceeds what Redis holds; it equals
    it whenever every hash's outcome was resolved (each round trip that carried it answered
    for it, no ``WAIT`` short). A hash whose round trip was lost (``connection``,
    ``timeout``) or not confirmed by a replica is unresolved: reported failed, it may be
    held. Every hash that is not confirmed written is in ``failures`` with the reason of its
    last attempt; see the README's "Guarantee" for the exact statement.
    """

    requested: int
    """Distinct hashes asked for (duplicates count once)."""
    succeeded: int
    """Hashes Redis acknowledged holding for at least their TTL during this call."""
    failures: Mapping[str, FailureReason] = field(default_factory=lambda: MappingProxyType({}))
    """Hash -> why it is not confirmed. Re-send exactly these to retry."""
    chunks: int = 0
    """Pipelines the input was split into."""
    round_trips: int = 0
    """Pipelines actually sent, retries included."""

    @property
    def failed(self) -> int:
        """``requested - succeeded``."""
        return self.requested - self.succeeded

    @property
    def ok(self) -> bool:
        """True when every requested hash was confirmed written."""
        return self.failed == 0

    @property
    def reasons(self) -> dict[FailureReason, int]:
        """Failure counts by reason, most frequent first."""
        return dict(Counter(self.failures.values()).most_common())

    @property
    def dominant_reason(self) -> FailureReason | None:
        """The most frequent failure reason, or None when ok."""
        reasons = self.reasons
        return next(iter(reasons)) if reasons else None

    def raise_for_failures(self) -> BlacklistResult:
        """Raise :class:`PartialBlacklistError` unless ok; return ``self`` for chaining."""
        if not self.ok:
            raise PartialBlacklistError(self)
        return self

    def describe(self) -> str:
        """One line with counts and reasons only: ``2 of 5 tokens not blacklisted (oom: 2)``."""
        if self.ok:
            return f"{self.succeeded} of {self.requested} tokens blacklisted"
        reasons = ", ".join(f"{reason.value}: {count}" for reason, count in self.reasons.items())
        return f"{self.failed} of {self.requested} tokens not blacklisted ({reasons})"

    def __repr__(self) -> str:
        # The dataclass repr would print every failed hash; keep it to figures.
        reasons = {reason.value: count for reason, count in self.reasons.items()}
        return (
            f"BlacklistResult(requested={self.requested}, succeeded={self.succeeded}, "
            f"failed={self.failed}, reasons={reasons!r})"
        )


@dataclass(frozen=True, slots=True)
class RevokeAllResult:
    """The exact outcome of one ``revoke_all`` call.

    ``ok`` means Redis acknowledged the (atomic) not-before script: the subject's
    not-before is now at least ``not_before`` and lives for the requested ``ttl``.
    Otherwise ``reason`` says why the last attempt failed; the not-before may or may not
    be in place (re-send to be sure: the call is idempotent). Its text never names the
    subject.
    """

    ok: bool
    not_before: int
    """Tokens of the subject with ``iat`` below this (Unix seconds) are rejected."""
    reason: FailureReason | None = None
    round_trips: int = 0

    def describe(self) -> str:
        if self.ok:
            return f"tokens issued before {self.not_before} revoked"
        reason = self.reason.value if self.reason else "unknown"
        return f"not-before not confirmed ({reason})"

    def raise_for_failure(self) -> RevokeAllResult:
        """Raise :class:`RevokeAllError` unless ok; return ``self`` for chaining."""
        if not self.ok:
            raise RevokeAllError(self)
        return self
