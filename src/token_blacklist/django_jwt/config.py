"""The process's client, built once from ``settings.TOKEN_BLACKLIST`` and SimpleJWT's
settings, shared by every thread (WSGI, or ASGI's thread pool for sync views); async views
get one :class:`AsyncTokenBlacklist` per event loop (:func:`aclient`).

Defaults taken from ``SIMPLE_JWT``: ``EXP_LEEWAY`` is its ``LEEWAY``, ``MAX_TOKEN_LIFETIME``
the longest of its access, refresh and sliding lifetimes (plus the leeway), the subject
claim its ``USER_ID_CLAIM``. Changing ``TOKEN_BLACKLIST`` or ``SIMPLE_JWT`` with Django's
``override_settings`` (or pytest-django's ``settings``) rebuilds the client.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from rest_framework_simplejwt import settings as simplejwt_settings

from .._async.client import AsyncTokenBlacklist
from .._sync.client import TokenBlacklist
from ..settings import BlacklistSettings, SharedBlacklist
from ..web import RevocationRules

__all__ = ["SHARED", "aclient", "client", "jti_claim", "jwt_settings", "load_settings", "rules"]


def seconds(value: Any) -> int:
    """A SimpleJWT lifetime or leeway (timedelta or seconds) in whole seconds."""
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return 0


def jwt_settings() -> Any:
    """SimpleJWT's settings as they are now (overriding ``SIMPLE_JWT`` replaces the object:
    a name imported from its module would keep the old one)."""
    return simplejwt_settings.api_settings


def load_settings() -> BlacklistSettings:
    """``settings.TOKEN_BLACKLIST`` validated, with SimpleJWT's values as defaults."""
    api_settings = jwt_settings()
    longest = max(
        seconds(api_settings.ACCESS_TOKEN_LIFETIME),
        seconds(api_settings.REFRESH_TOKEN_LIFETIME),
        # A sliding token is re-issued with a new iat: one lives at most this long.
        seconds(api_settings.SLIDING_TOKEN_LIFETIME),
    )
    return BlacklistSettings.from_mapping(
        getattr(settings, "TOKEN_BLACKLIST", None) or {},
        max_token_lifetime=longest,
        exp_leeway=seconds(api_settings.LEEWAY),
        subject_claim=api_settings.USER_ID_CLAIM,
    )


SHARED = SharedBlacklist(load_settings)


def client() -> TokenBlacklist:
    """The process's sync client (built on first use)."""
    return SHARED.get()


async def aclient() -> AsyncTokenBlacklist:
    """The running event loop's asyncio client (built on first use in that loop)."""
    return await SHARED.aget()


def rules() -> RevocationRules:
    """Hash key, lifetimes, failure status and ``Retry-After``, subject claim."""
    return SHARED.rules


def jti_claim() -> str:
    return str(jwt_settings().JTI_CLAIM or "jti")


def _reset(*, setting: str, **_: Any) -> None:
    if setting in {"TOKEN_BLACKLIST", "SIMPLE_JWT"}:
        SHARED.reset()


setting_changed.connect(_reset, dispatch_uid="token_blacklist.django_jwt.config")
