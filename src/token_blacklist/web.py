"""What every web integration does with a client: check a presented token, log out, log out
everywhere. Framework-neutral: FastAPI (:mod:`.fastapi_auth`), Flask-JWT-Extended
(:mod:`.flask_jwt`) and Django REST framework SimpleJWT (:mod:`.django_jwt`) all call these,
so they give the same answers; each only turns a :class:`Verdict` or an :class:`HttpAnswer`
into its own response.

A *presented token* is ``(token_hash, claims)``: the hash the application revokes it under
(of the raw token, or of its ``jti``) and the claims the application has already verified.
Nothing here verifies a signature or imports a web framework.

The sync functions take a :class:`TokenBlacklist`, the ``a``-prefixed ones an
:class:`AsyncTokenBlacklist`; they differ only by ``await``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._async.client import AsyncTokenBlacklist
from ._sync.client import TokenBlacklist
from .errors import BlacklistUnavailableError
from .hashing import hash_token
from .logout import (
    HttpAnswer,
    LogoutPlan,
    LogoutPolicy,
    check_failed_answer,
    logout_answer,
    plan_logout,
    revoke_all_answer,
    subject_of,
)

__all__ = [
    "NO_SUBJECT",
    "HttpAnswer",
    "LogoutPolicy",
    "Presented",
    "RevocationRules",
    "Verdict",
    "acheck",
    "alogout",
    "alogout_everywhere",
    "check",
    "check_failed_answer",
    "logout",
    "logout_everywhere",
]

Presented = tuple[str, Mapping[str, Any]]
"""``(token_hash, verified claims)`` of one token."""

NO_SUBJECT = HttpAnswer(400, {"detail": "the token has no subject"})


class Verdict(enum.Enum):
    """What a check says about a presented token."""

    VALID = "valid"
    REVOKED = "revoked"
    """Blacklisted, or issued before its subject's ``revoke_all`` (or ``"deny"`` on error)."""
    INVALID = "invalid"
    """Claims the core refuses (a subject too long to be one this application issued)."""
    UNAVAILABLE = "unavailable"
    """Redis could not answer and the client's ``on_check_error`` is ``"raise"``."""


@dataclass(frozen=True, slots=True)
class RevocationRules:
    """The application's side of revocation, identical for every framework.

    ``hash_key``: the HMAC key given to :func:`hash_token` (None: plain SHA-256).
    ``max_token_lifetime``: the longest lifetime of any token the application issues
    (refresh tokens included), the TTL of a ``revoke_all`` entry. ``clock_skew``: how far
    the issuer's clock may run ahead of this process's. ``policy``: status,
    ``Retry-After`` and the ``exp`` leeway. ``honour_revoke_all=False`` skips the subject's
    not-before in checks (one command less) for applications that never log out
    everywhere. ``subject_claim``: the claim naming the subject (``"sub"``; SimpleJWT
    uses ``"user_id"``).
    """

    hash_key: bytes | None = field(default=None, repr=False)
    max_token_lifetime: int = 30 * 24 * 3600
    clock_skew: float = 1.0
    policy: LogoutPolicy = field(default_factory=LogoutPolicy)
    honour_revoke_all: bool = True
    subject_claim: str = "sub"

    def hash(self, token_or_jti: str) -> str:
        """The hash a token (or its ``jti``) is revoked under."""
        return hash_token(token_or_jti, key=self.hash_key)

    def subject(self, claims: Mapping[str, Any]) -> tuple[str, float] | None:
        """``(subject, issued_at)`` of the claims, None without a subject."""
        return subject_of(claims, self.subject_claim)

    def check_arguments(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """``subject=``/``issued_at=`` for ``is_blacklisted`` (empty when not honoured)."""
        subject = self.subject(claims) if self.honour_revoke_all else None
        return {} if subject is None else {"subject": subject[0], "issued_at": subject[1]}

    def plan(self, tokens: Iterable[Presented | None]) -> LogoutPlan:
        """Each token until its own ``exp`` plus the leeway; expired ones need no entry."""
        present = (token for token in tokens if token is not None)
        return plan_logout(present, time.time(), self.policy.exp_leeway)


def check(blacklist: TokenBlacklist, token: Presented, rules: RevocationRules) -> Verdict:
    """Whether a verified token may be used: its hash and its subject's not-before in one
    round trip. Redis failures follow the client's ``on_check_error``."""
    token_hash, claims = token
    try:
        revoked = blacklist.is_blacklisted(token_hash, **rules.check_arguments(claims))
    except BlacklistUnavailableError:
        return Verdict.UNAVAILABLE
    except ValueError:  # a subject the core refuses: not a token this application issued
        return Verdict.INVALID
    return Verdict.REVOKED if revoked else Verdict.VALID


async def acheck(
    blacklist: AsyncTokenBlacklist, token: Presented, rules: RevocationRules
) -> Verdict:
    """:func:`check` for the asyncio client."""
    token_hash, claims = token
    try:
        revoked = await blacklist.is_blacklisted(token_hash, **rules.check_arguments(claims))
    except BlacklistUnavailableError:
        return Verdict.UNAVAILABLE
    except ValueError:
        return Verdict.INVALID
    return Verdict.REVOKED if revoked else Verdict.VALID


def logout(
    blacklist: TokenBlacklist, tokens: Iterable[Presented | None], rules: RevocationRules
) -> HttpAnswer:
    """Revoke the tokens (None entries skipped) in one call: 200 with counts, or the
    policy's failure status with ``Retry-After`` when any still-valid token is not revoked."""
    plan = rules.plan(tokens)
    result = blacklist.blacklist_tokens(list(plan.ttls), plan.ttls)
    return logout_answer(result, plan, rules.policy)


async def alogout(
    blacklist: AsyncTokenBlacklist, tokens: Iterable[Presented | None], rules: RevocationRules
) -> HttpAnswer:
    """:func:`logout` for the asyncio client."""
    plan = rules.plan(tokens)
    result = await blacklist.blacklist_tokens(list(plan.ttls), plan.ttls)
    return logout_answer(result, plan, rules.policy)


def logout_everywhere(
    blacklist: TokenBlacklist, claims: Mapping[str, Any], rules: RevocationRules
) -> HttpAnswer:
    """Revoke every token of the claims' subject issued until now; 400 without a subject."""
    subject = rules.subject(claims)
    if subject is None:
        return NO_SUBJECT
    result = blacklist.revoke_all(subject[0], rules.max_token_lifetime, clock_skew=rules.clock_skew)
    return revoke_all_answer(result, rules.policy)


async def alogout_everywhere(
    blacklist: AsyncTokenBlacklist, claims: Mapping[str, Any], rules: RevocationRules
) -> HttpAnswer:
    """:func:`logout_everywhere` for the asyncio client."""
    subject = rules.subject(claims)
    if subject is None:
        return NO_SUBJECT
    result = await blacklist.revoke_all(
        subject[0], rules.max_token_lifetime, clock_skew=rules.clock_skew
    )
    return revoke_all_answer(result, rules.policy)
