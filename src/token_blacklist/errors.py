"""Every exception this library raises on purpose, under one base class.

Factored out of the modules that raise them (as structlog's ``exceptions.py``) so that any
module can raise them without importing another layer. Texts carry positions, counts and
reasons only, never a hash, a key, a subject or a Redis message: they are safe to log.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from .results import BlacklistResult, FailureReason, RevokeAllResult

__all__ = [
    "BlacklistStreamError",
    "BlacklistUnavailableError",
    "InvalidClockSkew",
    "InvalidInput",
    "InvalidInputType",
    "InvalidIssuedAt",
    "InvalidSubject",
    "InvalidTTL",
    "InvalidTokenHash",
    "PartialBlacklistError",
    "RevokeAllError",
    "TokenBlacklistError",
    "UnsupportedServerError",
]

_POSITION = re.compile(r"token_hashes\[(\d+)\]")


class TokenBlacklistError(Exception):
    """Base class of every exception this library raises on purpose."""


class _InputProblem(TokenBlacklistError):
    """What every input error carries: where the bad item is, and what a stream achieved."""

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        partial_result: BlacklistResult | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        """Position of the offending item in the input, when there is one."""
        self.partial_result = partial_result
        """For ``blacklist_stream``: what the batches before the bad one wrote (else None)."""

    def in_stream(self, offset: int, partial_result: BlacklistResult) -> Self:
        """The same error for a stream: positions counted from the stream's start, and the
        result of the batches already written."""
        message = str(self)
        index = self.index
        if offset:
            message = _POSITION.sub(lambda m: f"token_hashes[{int(m.group(1)) + offset}]", message)
            index = None if index is None else index + offset
        return type(self)(message, index=index, partial_result=partial_result)


class InvalidInput(_InputProblem, ValueError):
    """A value of the input is not acceptable; nothing was sent to Redis for it.

    The message never repeats the offending value: it may be a raw token or a user id.
    """


class InvalidTokenHash(InvalidInput):
    """The input is not a list of valid token hashes; nothing was sent to Redis.

    Its subclasses name the other inputs (TTL, subject, clock skew, ``issued_at``): they
    derive from this class, not only from :class:`InvalidInput`, because before 0.2 every
    value error was an ``InvalidTokenHash`` and ``except InvalidTokenHash`` must keep
    catching them.
    """


class InvalidTTL(InvalidTokenHash):
    """A TTL is outside 1 second .. ten years, or a per-hash TTL is missing."""


class InvalidSubject(InvalidTokenHash):
    """A subject is empty or longer than the limit."""


class InvalidClockSkew(InvalidTokenHash):
    """``clock_skew`` is not a finite number of seconds within the limit."""


class InvalidIssuedAt(InvalidTokenHash):
    """``issued_at`` is not a finite Unix time."""


class InvalidInputType(_InputProblem, TypeError):
    """An item of a ``blacklist_stream`` input has the wrong type (a ``TypeError``),
    raised after earlier batches were written: ``partial_result`` says what they did."""


class BlacklistStreamError(TokenBlacklistError):
    """The iterable given to ``blacklist_stream`` raised; its exception is ``__cause__``.

    ``partial_result`` is what the batches read before it wrote.
    """

    def __init__(self, partial_result: BlacklistResult) -> None:
        super().__init__(f"the input stream failed after {partial_result.requested} tokens")
        self.partial_result = partial_result
        self.index: int | None = None


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


class RevokeAllError(TokenBlacklistError):
    """``revoke_all`` could not confirm the not-before; ``result`` says why."""

    def __init__(self, result: RevokeAllResult) -> None:
        super().__init__(result.describe())
        self.result = result


class UnsupportedServerError(TokenBlacklistError):
    """The Redis server is too old for this call; nothing was written.

    ``revoke_all`` needs Redis 7.0 or later (``EXPIRE ... NX|GT``); on Redis 6.2 it raises
    this before sending anything. ``feature`` names what is missing, ``needed`` the
    version that has it and ``found`` what the server reported (e.g. ``"redis 6.2.14"``).
    """

    def __init__(self, feature: str, needed: tuple[int, ...], found: str) -> None:
        wanted = ".".join(map(str, needed))
        super().__init__(f"{feature} needs Redis {wanted} or later; the server is {found}")
        self.feature = feature
        self.needed = needed
        self.found = found
