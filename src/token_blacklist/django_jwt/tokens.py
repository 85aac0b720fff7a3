"""SimpleJWT's token classes with revocation in Redis: drop-in for ``AUTH_TOKEN_CLASSES``
and the serializers' ``token_class``, without simplejwt's database ``token_blacklist`` app.

A token is revoked under the hash of its ``jti`` (:func:`token_blacklist.hash_token`, with
the optional ``HASH_KEY``) until its own ``exp`` plus SimpleJWT's ``LEEWAY``. Verifying a
token (what SimpleJWT does when it decodes one) reads its entry and its subject's "log out
everywhere" not-before in one round trip, after the signature, expiry and type checks (a
token of the wrong class costs no round trip).

SimpleJWT's own ``BlacklistMixin`` defines its methods only when its database app is
installed; this mixin always defines them and never touches the database. A Redis failure
never becomes an unexplained 500: under ``ON_CHECK_ERROR="raise"`` an unanswered check
raises :class:`RevocationUnavailable` (503 + ``Retry-After`` through DRF's exception
handler), ``"deny"`` refuses the token, ``"allow"`` accepts it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any, Self

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import APIException
from rest_framework_simplejwt import tokens as simplejwt
from rest_framework_simplejwt.exceptions import TokenError

from ..logout import HttpAnswer, check_failed_answer
from ..web import Presented, Verdict, acheck, alogout, check, logout
from . import config
from .config import seconds

__all__ = [
    "AccessToken",
    "BlacklistMixin",
    "RefreshToken",
    "RevocationUnavailable",
    "SlidingToken",
    "acheck_token",
    "arevoke",
    "check_token",
    "presented",
    "revoke",
    "skip_revocation_check",
]

_UNCHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "token_blacklist_unchecked", default=False
)


@contextlib.contextmanager
def skip_revocation_check() -> Iterator[None]:
    """Tokens built inside skip the revocation check (signature, expiry and type are
    still verified): for a logout that must succeed when retried after a 503."""
    reset = _UNCHECKED.set(True)
    try:
        yield
    finally:
        _UNCHECKED.reset(reset)


class RevocationUnavailable(APIException):
    """Redis did not confirm a revocation, or could not answer a check under
    ``ON_CHECK_ERROR="raise"``. DRF answers it with the failure status (503), its
    ``Retry-After`` and a JSON body with counts only; outside DRF, catch it and answer
    :attr:`answer`."""

    status_code = 503
    default_code = "revocation_unavailable"

    def __init__(self, answer: HttpAnswer) -> None:
        super().__init__(answer.body.get("detail"))
        self.answer = answer
        self.status_code = answer.status
        self.detail = dict(answer.body)  # as is: DRF would turn the counts into strings
        retry_after = answer.headers.get("Retry-After")
        self.wait = None if retry_after is None else int(retry_after)


def presented(token: simplejwt.Token) -> Presented:
    """``(hash of the jti, claims)`` of a token, with the claims' ``exp`` as long as the
    token (or a token sharing its ``jti``) can be accepted. TokenError without a ``jti``:
    a token that can never be revoked is refused."""
    jti = token.payload.get(config.jti_claim())
    if not isinstance(jti, str) or not jti:
        raise TokenError(_("Token has no id"))
    claims = token.revocation_claims() if isinstance(token, BlacklistMixin) else token.payload
    return config.rules().hash(jti), claims


def _raise_for(verdict: Verdict) -> None:
    if verdict is Verdict.UNAVAILABLE:
        raise RevocationUnavailable(check_failed_answer(config.rules().policy))
    if verdict is Verdict.INVALID:
        raise TokenError(_("Token is invalid"))
    if verdict is Verdict.REVOKED:
        raise TokenError(_("Token is blacklisted"))


def check_token(token: simplejwt.Token) -> None:
    """Raise TokenError when revoked (or issued before its subject's "log out
    everywhere"), :class:`RevocationUnavailable` when Redis cannot say."""
    _raise_for(check(config.client(), presented(token), config.rules()))


async def acheck_token(token: simplejwt.Token) -> None:
    """:func:`check_token` through the event loop's asyncio client."""
    _raise_for(await acheck(await config.aclient(), presented(token), config.rules()))


def revoke(*tokens: simplejwt.Token | None) -> HttpAnswer:
    """Revoke the tokens (None skipped) in one call; the 200 answer with counts, else
    :class:`RevocationUnavailable` carrying the failure answer."""
    given = [presented(token) for token in tokens if token is not None]
    answer = logout(config.client(), given, config.rules())
    if answer.status != 200:
        raise RevocationUnavailable(answer)
    return answer


async def arevoke(*tokens: simplejwt.Token | None) -> HttpAnswer:
    """:func:`revoke` through the event loop's asyncio client."""
    blacklist = await config.aclient()
    given = [presented(token) for token in tokens if token is not None]
    answer = await alogout(blacklist, given, config.rules())
    if answer.status != 200:
        raise RevocationUnavailable(answer)
    return answer


class BlacklistMixin:
    """Revocation for a SimpleJWT token class (put it first among the bases)."""

    payload: dict[str, Any]

    def verify(self, *args: Any, **kwargs: Any) -> None:
        super().verify(*args, **kwargs)  # type: ignore[misc]
        if not _UNCHECKED.get():
            self.check_blacklist()

    def check_blacklist(self) -> None:
        """TokenError("Token is blacklisted") when revoked; see :func:`check_token`."""
        check_token(self)  # type: ignore[arg-type]

    async def acheck_blacklist(self) -> None:
        await acheck_token(self)  # type: ignore[arg-type]

    def blacklist(self) -> HttpAnswer:
        """Revoke this token until it expires; :class:`RevocationUnavailable` when Redis
        does not confirm (never an AttributeError: SimpleJWT would swallow it)."""
        return revoke(self)  # type: ignore[arg-type]

    async def ablacklist(self) -> HttpAnswer:
        return await arevoke(self)  # type: ignore[arg-type]

    def outstand(self) -> None:
        """No outstanding-token table: Redis holds only revoked tokens."""
        return None

    def revocation_claims(self) -> Mapping[str, Any]:
        """The claims a revocation is planned from (its TTL follows their ``exp``)."""
        return self.payload

    @classmethod
    def verified(cls, token: str | bytes) -> Self:
        """The token, verified and checked (``cls(token)``)."""
        return cls(token)  # type: ignore[call-arg]

    @classmethod
    def unchecked(cls, token: str | bytes) -> Self:
        """The token, verified but not checked against the blacklist."""
        with skip_revocation_check():
            return cls(token)  # type: ignore[call-arg]

    @classmethod
    async def averified(cls, token: str | bytes) -> Self:
        """For async views: decoded and verified without I/O, then checked through the
        event loop's asyncio client."""
        checked = cls.unchecked(token)
        await checked.acheck_blacklist()
        return checked


class AccessToken(BlacklistMixin, simplejwt.AccessToken):
    """SimpleJWT's access token, checked on every authenticated request."""


class RefreshToken(BlacklistMixin, simplejwt.RefreshToken):  # type: ignore[misc]
    """SimpleJWT's refresh token, checked on refresh; access tokens made from it are
    :class:`AccessToken` instances."""

    access_token_class = AccessToken


class SlidingToken(BlacklistMixin, simplejwt.SlidingToken):  # type: ignore[misc]
    """SimpleJWT's sliding token. Refreshing one keeps its ``jti``, so a revocation lasts
    until the last copy of it can expire: its refresh limit plus one sliding lifetime."""

    def revocation_claims(self) -> Mapping[str, Any]:
        api_settings = config.jwt_settings()
        refresh_exp = self.payload.get(api_settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM)
        exp = self.payload.get("exp")
        if isinstance(refresh_exp, int | float) and isinstance(exp, int | float):
            last = refresh_exp + seconds(api_settings.SLIDING_TOKEN_LIFETIME)
            return {**self.payload, "exp": max(exp, last)}
        return self.payload
