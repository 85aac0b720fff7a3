"""Sans-IO core of "log out everywhere": a per-subject not-before timestamp.

``revoke_all(subject)`` stores, for that subject, the time before which every token counts
as revoked. A check of a token that carries ``sub`` and ``iat`` reads that time in the same
round trip as the token's own key and treats the token as blacklisted when
``iat < not_before``.

Storage (keys and commands are built in :mod:`.commands`): one sorted set per subject,
``{prefix}:nbf:{sha256(subject)}``, with a single member ``nbf`` whose score is the
not-before time in Unix seconds. It is written with
``ZADD key GT nbf <ts>``, applied only when the new score is greater, so a concurrent or
delayed older ``revoke_all`` can never move it backwards (Redis 7.0 has no ``SET ... GT``).
The expiry follows the same rule: ``EXPIRE key ttl NX`` gives a new key its expiry and
``EXPIRE key ttl GT`` only ever extends it (``GT`` alone treats a key without expiry as
infinite and would never set one). The three run in one script
(:data:`.commands.NOT_BEFORE_SCRIPT`), so no cut or refusal can leave the score without its
expiry; the script is idempotent, so the call may be re-sent like a ``SET``.

Clock skew: ``iat`` comes from the issuer's clock, the not-before from the revoking
process's clock, and ``iat`` has whole seconds. A token issued before the call must still
be caught when the issuer's clock runs ahead, so the not-before is
``ceil(now + clock_skew)``: every token whose ``iat`` is below it is rejected, which may also
reject tokens issued up to ``clock_skew + 1`` seconds after the call (the client logs in
again, or the application mints its next token with ``iat = result.not_before``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

from ..errors import InvalidClockSkew, InvalidIssuedAt
from ..results import FailureReason, RevokeAllResult
from .classify import RETRIABLE, classify_error, is_refused
from .commands import SetNotBefore, subject_key
from .protocol import CheckOutcome, Reply, RetryPolicy
from .validation import check_number, validate_ttl

__all__ = [
    "MAX_CLOCK_SKEW_SECONDS",
    "RevokeAllPlan",
    "SendNotBefore",
    "SubjectCheck",
    "interpret_subject_check",
    "plan_revoke_all",
    "plan_subject_check",
    "revoke_all_protocol",
]

MAX_CLOCK_SKEW_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class RevokeAllPlan:
    """Validated input of ``revoke_all``: the key, the not-before and the key's lifetime."""

    key: str
    not_before: int
    expire_seconds: int
    """Relative to the send: the token lifetime plus how far ``not_before`` is ahead."""


def plan_revoke_all(
    key_prefix: str, subject: str, ttl: int, *, now: float, clock_skew: float
) -> RevokeAllPlan:
    """Validate a ``revoke_all`` call completely, before anything is sent.

    ``ttl`` is the longest remaining lifetime of any token of the subject (the refresh
    token's, typically): after it, every token issued before ``not_before`` has expired by
    itself and the entry is no longer needed.
    """
    key = subject_key(key_prefix, subject)
    validate_ttl(ttl)
    skew = check_number("clock_skew", clock_skew, 0.0, MAX_CLOCK_SKEW_SECONDS, InvalidClockSkew)
    not_before = math.ceil(now + skew)
    # A token issued just before not_before lives until not_before + ttl.
    return RevokeAllPlan(key, not_before, ttl + not_before - math.floor(now))


@dataclass(frozen=True, slots=True)
class SendNotBefore:
    """Send the not-before's script after ``delay`` seconds."""

    commands: SetNotBefore
    delay: float


def _acknowledged(reply: Reply) -> FailureReason | None:
    """None when the script answered 1 (it ran to its end), else the reason."""
    if isinstance(reply, BaseException):
        return classify_error(reply)
    if len(reply) != 1:
        return FailureReason.OTHER  # a transport bug: trust nothing
    (value,) = reply
    if isinstance(value, BaseException):
        return classify_error(value)
    if value != 1 or isinstance(value, bool):
        return FailureReason.OTHER
    return None


def revoke_all_protocol(
    plan: RevokeAllPlan, policy: RetryPolicy
) -> Generator[SendNotBefore, Reply, RevokeAllResult]:
    """Send the not-before; re-send while the failure may still change (same retry rules
    as a blacklist chunk: see :class:`.protocol.RetryPolicy`)."""
    commands = SetNotBefore(plan.key, plan.not_before, plan.expire_seconds)
    attempt = 0
    while True:
        reply = yield SendNotBefore(commands, policy.delay(attempt))
        attempt += 1
        reason = _acknowledged(reply)
        if reason is None:
            return RevokeAllResult(True, plan.not_before, None, attempt)
        refused = isinstance(reply, BaseException) and is_refused(reply)
        if reason not in RETRIABLE or refused or not policy.allows(attempt, reason):
            return RevokeAllResult(False, plan.not_before, reason, attempt)


@dataclass(frozen=True, slots=True)
class SubjectCheck:
    """Validated input of a subject-aware check."""

    subject_key: str
    issued_at: float


def plan_subject_check(key_prefix: str, subject: object, issued_at: object) -> SubjectCheck | None:
    """Validate ``subject`` and ``issued_at`` (Unix seconds, the token's ``iat``).

    None when neither is given (a plain token check). One without the other is a caller
    bug: a token whose ``iat`` is unknown cannot be compared with a not-before (pass
    ``issued_at=0`` to reject it whenever the subject has one).
    """
    if subject is None and issued_at is None:
        return None
    if subject is None or issued_at is None:
        raise TypeError("subject and issued_at must be given together")
    if not isinstance(subject, str):
        raise TypeError(f"subject must be str, not {type(subject).__name__}")
    iat = check_number("issued_at", issued_at, 0.0, 2.0**53, InvalidIssuedAt)
    return SubjectCheck(subject_key(key_prefix, subject), iat)


def _score(value: object) -> float | None:
    """A ``ZSCORE`` reply as a number: float (redis-py, RESP3), bytes/str (raw RESP2)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bytes | str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError("not a score")


def _subject_answer(check: SubjectCheck, reply: Reply) -> tuple[bool, bool] | BaseException:  # noqa: PLR0911
    """(blacklisted, by the subject's not-before), or the error that leaves it unknown."""
    if not isinstance(reply, BaseException) and len(reply) != 2:
        return RuntimeError("reply count does not match the commands sent")
    if isinstance(reply, BaseException):
        return reply
    exists, raw_score = reply
    if isinstance(exists, BaseException):
        return exists
    if exists:  # settled, whatever the not-before says
        return True, False
    if isinstance(raw_score, BaseException):
        return raw_score
    try:
        not_before = _score(raw_score)
    except ValueError:
        return RuntimeError("unexpected reply to ZSCORE")
    revoked = not_before is not None and check.issued_at < not_before
    return revoked, revoked


def interpret_subject_check(
    token_hash: str, check: SubjectCheck, reply: Reply
) -> tuple[CheckOutcome, bool]:
    """``EXISTS token_key`` + ``ZSCORE subject_key nbf`` -> the outcome, and whether the
    subject's not-before is what revoked the token.

    The check is unanswered only when the answer is unknown: a blacklisted token key
    settles it even if the not-before could not be read.
    """
    answer = _subject_answer(check, reply)
    if isinstance(answer, BaseException):
        return CheckOutcome(frozenset(), {token_hash: classify_error(answer)}, answer), False
    blacklisted, by_subject = answer
    found = frozenset({token_hash}) if blacklisted else frozenset()
    return CheckOutcome(found, {}, None), by_subject
