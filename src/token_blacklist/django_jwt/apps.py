"""The optional Django app: validates ``TOKEN_BLACKLIST`` at start-up and provides the
``token_blacklist`` management command. The integration works without it."""

from __future__ import annotations

from django.apps import AppConfig


class TokenBlacklistConfig(AppConfig):
    name = "token_blacklist.django_jwt"
    label = "token_blacklist_django_jwt"  # not simplejwt's "token_blacklist"
    verbose_name = "Token blacklist (Redis)"

    def ready(self) -> None:
        from .config import SHARED

        SHARED.settings  # noqa: B018 (a misspelt key fails here, not at the first request)
