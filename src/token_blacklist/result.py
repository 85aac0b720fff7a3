"""Plain data: what a call asked for, what Redis confirmed, and why the rest was not.

Nothing here talks to Redis or to telemetry. The texts of these objects (``repr``, ``str``,
exception messages) carry counts and reasons only, never a hash, a key or a Redis message,
so they are safe to log.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "BlacklistResult",
    "BlacklistUnavailableError",
    "FailureReason",
    "InvalidTokenHash",
    "PartialBlacklistError",
    "TokenBlacklistError",
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


class TokenBlacklistError(Exception):
    """Base class of every exception this library raises on purpose."""


class InvalidTokenHash(TokenBlacklistError, ValueError):
    """The input is not a list of valid token hashes (or TTLs); nothing was sent to Redis.

    ``index`` is the position of the offending item in the input, when there is one.
    The message never repeats the offending value: it may be a raw token.
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True, slots=True, repr=False)
class BlacklistResult:
    """The exact outcome of one ``blacklist_tokens`` call.

    Invariant: ``succeeded`` never exceeds the number of these keys Redis holds after the
    call, and equals it whenever Redis was reachable at the end of the call. Every hash that
    is not confirmed written is in ``failures`` with the reason of its last attempt.
    """

    requested: int
    """Distinct hashes asked for (duplicates count once)."""
    succeeded: int
    """Hashes whose ``SET`` was acknowledged by Redis during this call."""
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


class PartialBlacklistError(TokenBlacklistError):
    """Some tokens were not blacklisted. ``result`` tells which and why."""

    def __init__(self, result: BlacklistResult) -> None:
        super().__init__(result.describe())
        self.result = result


class BlacklistUnavailableError(TokenBlacklistError):
    """A blacklist check could not be answered because Redis failed.

    Raised by ``is_blacklisted``/``blacklisted`` under the default ``on_check_error="raise"``
    policy. The Redis exception is chained as ``__cause__``; its text may contain keys, so
    log ``reason`` rather than the cause.
    """

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(f"token blacklist unavailable ({reason.value})")
        self.reason = reason
