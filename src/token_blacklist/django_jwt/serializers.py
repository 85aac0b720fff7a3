"""SimpleJWT's serializers on the Redis-backed token classes, for the ``SIMPLE_JWT``
settings of the same names (``TOKEN_REFRESH_SERIALIZER``...).

SimpleJWT's refresh serializer blacklists the old refresh token only when
``BLACKLIST_AFTER_ROTATION`` is set (which imports its database models) and inside
``try/except AttributeError``, so a failure passes silently and the old token stays
valid. Here, with ``ROTATE_REFRESH_TOKENS``, the old token is always revoked, before the
new ones are made: when Redis does not confirm, the answer is 503 + ``Retry-After`` and no
new token is issued.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework_simplejwt import serializers as simplejwt
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.tokens import UntypedToken

from . import config
from .tokens import RefreshToken, SlidingToken, check_token

__all__ = [
    "TokenBlacklistSerializer",
    "TokenObtainPairSerializer",
    "TokenObtainSlidingSerializer",
    "TokenRefreshSerializer",
    "TokenRefreshSlidingSerializer",
    "TokenVerifySerializer",
]


class TokenObtainPairSerializer(simplejwt.TokenObtainPairSerializer):
    token_class = RefreshToken


class TokenObtainSlidingSerializer(simplejwt.TokenObtainSlidingSerializer):
    token_class = SlidingToken


class TokenRefreshSerializer(simplejwt.TokenRefreshSerializer):
    """A revoked (or logged-out-everywhere) refresh token is refused (401); with
    ``ROTATE_REFRESH_TOKENS`` the old one is revoked before the new pair is made."""

    token_class = RefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])  # verified and checked
        self._check_user(refresh)
        data = {"access": str(refresh.access_token)}
        if config.jwt_settings().ROTATE_REFRESH_TOKENS:
            refresh.blacklist()  # RevocationUnavailable (503) when not confirmed
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            data["refresh"] = str(refresh)
        return data

    def _check_user(self, refresh: RefreshToken) -> None:
        """SimpleJWT's: the token's user must still pass ``USER_AUTHENTICATION_RULE``."""
        api_settings = config.jwt_settings()
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        if not user_id:
            return
        model = get_user_model()
        try:
            user = model.objects.get(**{api_settings.USER_ID_FIELD: user_id})
        except model.DoesNotExist:
            user = None
        if not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )


class TokenRefreshSlidingSerializer(simplejwt.TokenRefreshSlidingSerializer):
    """A revoked sliding token is refused (its refreshed copies share its ``jti``)."""

    token_class = SlidingToken


class TokenVerifySerializer(simplejwt.TokenVerifySerializer):
    """Any token type: a revoked one answers 401 "Token is blacklisted" (TokenError,
    turned into InvalidToken by SimpleJWT's view like every other invalid token)."""

    def validate(self, attrs: dict[str, Any]) -> dict[Any, Any]:
        check_token(UntypedToken(attrs["token"]))
        return {}


class TokenBlacklistSerializer(simplejwt.TokenBlacklistSerializer):
    """Revokes the refresh token; 200 ``{}`` once confirmed, else 503 + ``Retry-After``.
    A token already revoked is accepted again, so that a 503 can be retried."""

    token_class = RefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[Any, Any]:
        self.token_class.unchecked(attrs["refresh"]).blacklist()
        return {}
