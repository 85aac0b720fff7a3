"""Sans-IO decisions of a web logout: which tokens to revoke for how long, and what to answer.

Framework-free, so any integration (:mod:`.fastapi_auth` is one) gives the same answers and
the rules are tested without a server. Claims are the ones the application has already
verified; nothing here verifies a signature.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._core.validation import MAX_TTL_SECONDS
from .results import BlacklistResult, RevokeAllResult

__all__ = [
    "HttpAnswer",
    "LogoutPlan",
    "LogoutPolicy",
    "check_failed_answer",
    "logout_answer",
    "plan_logout",
    "remaining_ttl",
    "revoke_all_answer",
    "subject_of",
]


@dataclass(frozen=True, slots=True)
class LogoutPolicy:
    """What the application answers when Redis lets it down, and how it verifies ``exp``.

    ``failure_status`` (default 503) with ``Retry-After: retry_after`` seconds (None: no
    header) when a revocation is not confirmed, so the client retries the logout instead of
    believing it; ``exp_leeway``: the leeway the application's own verification grants on
    ``exp``, since a token is accepted that much longer and must stay revoked as long.
    """

    failure_status: int = 503
    retry_after: int | None = 5
    exp_leeway: int = 0


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """Status, headers and JSON body; counts only, never a token or a subject."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def remaining_ttl(claims: Mapping[str, Any], now: float, exp_leeway: int = 0) -> int | None:
    """Seconds a token stays acceptable, rounded up; None when it has already expired.

    A token without a numeric ``exp`` never expires, so its entry gets the longest TTL the
    core accepts (ten years).
    """
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        return MAX_TTL_SECONDS
    remaining = math.ceil(exp + exp_leeway - now)
    if remaining < 1:
        return None
    return min(remaining, MAX_TTL_SECONDS)


@dataclass(frozen=True, slots=True)
class LogoutPlan:
    """Hashes to revoke with their TTLs, and how many presented tokens needed no entry."""

    ttls: dict[str, int]
    already_expired: int


def plan_logout(
    tokens: Iterable[tuple[str, Mapping[str, Any]]], now: float, exp_leeway: int = 0
) -> LogoutPlan:
    """``(token_hash, claims)`` pairs -> the revocations to send (expired tokens skipped)."""
    ttls: dict[str, int] = {}
    expired: set[str] = set()
    for token_hash, claims in tokens:
        ttl = remaining_ttl(claims, now, exp_leeway)
        if ttl is None:
            expired.add(token_hash)
        else:
            ttls[token_hash] = max(ttl, ttls.get(token_hash, 0))
    return LogoutPlan(ttls, len(expired - ttls.keys()))


def _retry_headers(policy: LogoutPolicy) -> dict[str, str]:
    return {} if policy.retry_after is None else {"Retry-After": str(policy.retry_after)}


def logout_answer(result: BlacklistResult, plan: LogoutPlan, policy: LogoutPolicy) -> HttpAnswer:
    """200 with the counts when every token is revoked; else the configured failure status
    with ``Retry-After``: a client told "logged out" would stop retrying."""
    body: dict[str, Any] = {
        "revoked": result.succeeded,
        "not_revoked": result.failed,
        "already_expired": plan.already_expired,
    }
    if result.ok:
        return HttpAnswer(200, body)
    body["detail"] = "logout incomplete: some tokens are still valid; retry"
    return HttpAnswer(policy.failure_status, body, _retry_headers(policy))


def revoke_all_answer(result: RevokeAllResult, policy: LogoutPolicy) -> HttpAnswer:
    """200 with the not-before when confirmed; else the configured failure status."""
    if result.ok:
        return HttpAnswer(200, {"revoked_before": result.not_before})
    body = {"detail": "log out everywhere not confirmed; retry"}
    return HttpAnswer(policy.failure_status, body, _retry_headers(policy))


def check_failed_answer(policy: LogoutPolicy) -> HttpAnswer:
    """A check could not be answered and the client's policy is ``"raise"``."""
    body = {"detail": "token revocation status unavailable; retry"}
    return HttpAnswer(policy.failure_status, body, _retry_headers(policy))


def subject_of(claims: Mapping[str, Any], claim: str = "sub") -> tuple[str, float] | None:
    """``(sub, iat)`` for a subject-aware check, or None when the token has no ``sub``
    (``claim`` names another subject claim, e.g. SimpleJWT's ``user_id``).

    A token with a ``sub`` but no usable ``iat`` is checked as if issued at 0: any
    not-before of its subject rejects it, since nobody can tell it is newer. An integer
    ``sub`` (some issuers use them) is taken as its decimal text, on both sides.
    """
    sub = claims.get(claim)
    if isinstance(sub, int) and not isinstance(sub, bool):
        sub = str(sub)
    if not isinstance(sub, str) or not sub:
        return None
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        iat = 0
    return sub, max(float(iat), 0.0)
