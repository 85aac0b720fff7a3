"""DRF authentication classes that check every token against the blacklist, whatever
its class: SimpleJWT's own ``AccessToken`` in ``AUTH_TOKEN_CLASSES`` is checked too (a
token class with :class:`~.tokens.BlacklistMixin` has checked itself while verifying).

A revoked token answers 401 like any invalid token; a check Redis cannot answer under
``ON_CHECK_ERROR="raise"`` answers 503 + ``Retry-After`` (:class:`~.tokens.RevocationUnavailable`).
"""

from __future__ import annotations

from rest_framework_simplejwt.authentication import (
    JWTAuthentication,
    JWTStatelessUserAuthentication,
)
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import Token

from .tokens import BlacklistMixin, check_token, skip_revocation_check

__all__ = [
    "BlacklistJWTAuthentication",
    "BlacklistJWTStatelessUserAuthentication",
    "LogoutJWTAuthentication",
]


class _RevocationCheck:
    check_revocation = True
    """False: the token is verified but not checked (the logout view's retry)."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        if not self.check_revocation:
            with skip_revocation_check():
                token: Token = super().get_validated_token(raw_token)  # type: ignore[misc]
            return token
        token = super().get_validated_token(raw_token)  # type: ignore[misc]
        if not isinstance(token, BlacklistMixin):
            try:
                check_token(token)
            except TokenError as error:
                raise InvalidToken(error.args[0]) from error
        return token


class BlacklistJWTAuthentication(_RevocationCheck, JWTAuthentication):
    """SimpleJWT's ``JWTAuthentication`` (user from the database), checked."""


class BlacklistJWTStatelessUserAuthentication(_RevocationCheck, JWTStatelessUserAuthentication):
    """SimpleJWT's ``JWTStatelessUserAuthentication`` (user from the token), checked."""


class LogoutJWTAuthentication(BlacklistJWTStatelessUserAuthentication):
    """For the logout view only: a token already revoked is accepted, so a logout
    answered 503 can be retried (revoking twice is harmless). No database query."""

    check_revocation = False
