"""Logout and log-out-everywhere views (DRF ``APIView``), with the answers of every
integration of this library (:mod:`token_blacklist.web`):

* ``POST`` :class:`LogoutView` with the access token as bearer and, optionally,
  ``{"refresh": "<refresh token>"}``: both revoked in one call, each until its own ``exp``
  plus ``LEEWAY``. 200 ``{"revoked", "not_revoked", "already_expired"}``; when any token
  that is still valid is not revoked, 503 + ``Retry-After`` with the same counts (never a
  token, hash or subject). The bearer is not checked against the blacklist here, so the
  retry of a 503 goes through.
* ``POST`` :class:`LogoutEverywhereView`: every token of the bearer's subject issued until
  now is refused from then on; 200 ``{"revoked_before": <epoch seconds>}``, 503 +
  ``Retry-After`` when Redis does not confirm.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from ..logout import HttpAnswer
from ..web import logout, logout_everywhere
from . import config
from .authentication import BlacklistJWTStatelessUserAuthentication, LogoutJWTAuthentication
from .tokens import RefreshToken, presented

__all__ = ["LogoutEverywhereView", "LogoutView", "response"]


def response(answer: HttpAnswer) -> Response:
    """The DRF response of an answer."""
    return Response(answer.body, status=answer.status, headers=answer.headers)


class LogoutView(APIView):
    """Revoke the bearer access token and the refresh token in the body (``refresh``)."""

    authentication_classes = (LogoutJWTAuthentication,)
    permission_classes = (IsAuthenticated,)
    refresh_field = "refresh"
    refresh_token_class = RefreshToken

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access = request.auth
        refresh = self.refresh_token(request)
        claim = config.jwt_settings().USER_ID_CLAIM
        if refresh is not None and refresh.get(claim) != access.get(claim):
            return response(HttpAnswer(400, {"detail": "the tokens belong to different subjects"}))
        try:
            tokens = [presented(token) for token in (access, refresh) if token is not None]
        except TokenError as error:  # no jti: it could never be revoked
            raise InvalidToken(error.args[0]) from error
        return response(logout(config.client(), tokens, config.rules()))

    def refresh_token(self, request: Request) -> RefreshToken | None:
        """The body's refresh token, verified (not checked: a retry revokes it again);
        None when absent, 401 when it is not a valid refresh token."""
        data = request.data if hasattr(request.data, "get") else {}
        raw = data.get(self.refresh_field)
        if not raw:
            return None
        if not isinstance(raw, str):
            raise AuthenticationFailed("invalid refresh token")
        try:
            token: RefreshToken = self.refresh_token_class.unchecked(raw)
        except TokenError as error:
            raise InvalidToken(error.args[0]) from error
        return token


class LogoutEverywhereView(APIView):
    """Revoke every token of the bearer's subject (the ``USER_ID_CLAIM``) issued so far."""

    authentication_classes = (BlacklistJWTStatelessUserAuthentication,)
    permission_classes = (IsAuthenticated,)

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return response(logout_everywhere(config.client(), request.auth.payload, config.rules()))
