"""Flask-JWT-Extended integration (``pip install 'token-blacklist[flask]'``).

    app.config["TOKEN_BLACKLIST"] = {"REDIS_URL": "redis://localhost:6379/0"}
    jwt = JWTManager(app)
    revocations = FlaskBlacklist(app)
    jwt.token_in_blocklist_loader(revocations.is_revoked)   # every protected route, checked

    @app.post("/logout")
    @jwt_required(skip_revocation_check=True)   # a retry after a 503 must get through
    def logout():
        return revocations.logout(get_jwt(), revocations.refresh_claims(request.json))

Tokens are revoked under the hash of their ``jti`` (:func:`hash_token`, with the optional
``HASH_KEY``), each until its own ``exp`` plus ``JWT_DECODE_LEEWAY``; a check reads the
token's entry and its subject's "log out everywhere" not-before in one round trip. The
settings are those of :mod:`token_blacklist.settings`; ``MAX_TOKEN_LIFETIME`` defaults to
``JWT_REFRESH_TOKEN_EXPIRES``. One :class:`TokenBlacklist` per application and process,
shared by its threads; sync and async views alike (the loader is always called sync).

When Redis cannot answer a check and ``ON_CHECK_ERROR`` is ``"raise"``, the loader aborts
the request with the configured status (503), ``Retry-After`` and a JSON body saying why:
never an unexplained 500. ``"deny"`` answers Flask-JWT-Extended's revoked-token 401,
``"allow"`` lets the token through.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import flask
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import InvalidTokenError

from . import TokenBlacklist
from .settings import BlacklistSettings, SharedBlacklist
from .web import (
    HttpAnswer,
    Presented,
    RevocationRules,
    Verdict,
    check,
    check_failed_answer,
    logout,
    logout_everywhere,
)

__all__ = ["FlaskBlacklist"]

EXTENSION = "token-blacklist"


def _seconds(value: Any, default: int) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return default  # False (never expires) or unset


def _settings(app: flask.Flask) -> BlacklistSettings:
    config = app.config
    return BlacklistSettings.from_mapping(
        config.get("TOKEN_BLACKLIST") or {},
        max_token_lifetime=_seconds(config.get("JWT_REFRESH_TOKEN_EXPIRES"), 30 * 24 * 3600),
        exp_leeway=_seconds(config.get("JWT_DECODE_LEEWAY"), 0),
    )


def response(answer: HttpAnswer) -> flask.Response:
    """The JSON response of an answer (counts only, never a token)."""
    reply = flask.jsonify(answer.body)
    reply.status_code = answer.status
    reply.headers.update(answer.headers)
    return reply


class FlaskBlacklist:
    """Revocation for the Flask-JWT-Extended applications it is initialised with.

    ``blacklist``: a ready client, instead of one built from ``TOKEN_BLACKLIST`` (the
    settings' rules still apply).
    """

    def __init__(self, app: flask.Flask | None = None, *, blacklist: TokenBlacklist | None = None):
        self._blacklist = blacklist
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Validate ``TOKEN_BLACKLIST`` now (a typo fails at start-up, not at a request)."""
        shared = SharedBlacklist(lambda: _settings(app))
        shared.settings  # noqa: B018 (validates)
        app.extensions[EXTENSION] = shared

    def _shared(self) -> SharedBlacklist:
        shared: SharedBlacklist = flask.current_app.extensions[EXTENSION]
        return shared

    @property
    def rules(self) -> RevocationRules:
        """The current application's rules (hash key, lifetimes, failure policy)."""
        return self._shared().rules

    def client(self) -> TokenBlacklist:
        """The current application's client (built on first use)."""
        return self._blacklist or self._shared().get()

    def _presented(self, claims: Mapping[str, Any]) -> Presented | None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            return None
        return self.rules.hash(jti), claims

    def is_revoked(self, jwt_header: Mapping[str, Any], jwt_payload: Mapping[str, Any]) -> bool:
        """The ``token_in_blocklist_loader`` callback.

        True for a revoked token, one issued before its subject's "log out everywhere",
        and one without a ``jti`` (it could never be revoked). When Redis cannot answer
        under ``ON_CHECK_ERROR="raise"``, aborts with the failure status and
        ``Retry-After``.
        """
        presented = self._presented(jwt_payload)
        if presented is None:
            return True
        verdict = check(self.client(), presented, self.rules)
        if verdict is Verdict.UNAVAILABLE:
            flask.abort(response(check_failed_answer(self.rules.policy)))
        return verdict is not Verdict.VALID

    def refresh_claims(self, body: Any, field: str = "refresh_token") -> Mapping[str, Any] | None:
        """The verified claims of the refresh token in a JSON body (``{field: token}``),
        None when absent; aborts with 401 when it is not a valid refresh token."""
        token = body.get(field) if isinstance(body, Mapping) else None
        if not token:
            return None
        try:
            claims: dict[str, Any] = decode_token(token)
        except (InvalidTokenError, JWTExtendedException):
            flask.abort(response(HttpAnswer(401, {"msg": "invalid refresh token"})))
        if claims.get("type") != "refresh":
            flask.abort(response(HttpAnswer(401, {"msg": "not a refresh token"})))
        return claims

    def logout(self, *claims: Mapping[str, Any] | None) -> flask.Response:
        """Revoke the tokens whose verified claims are given (``get_jwt()``, the refresh
        token's), in one call: 200 with counts, or 503 + ``Retry-After`` when any token
        that is still valid is not revoked. 400 when they name different subjects."""
        given = [c for c in claims if c is not None]
        if len({c.get("sub") for c in given}) > 1:
            return response(HttpAnswer(400, {"msg": "the tokens belong to different subjects"}))
        presented = [self._presented(c) for c in given]
        if None in presented:
            return response(HttpAnswer(400, {"msg": "a token without jti cannot be revoked"}))
        return response(logout(self.client(), presented, self.rules))

    def revoke(self, *claims: Mapping[str, Any]) -> flask.Response | None:
        """Revoke tokens on the way (e.g. the old refresh token when rotating): None once
        confirmed, else the response to return instead of new tokens."""
        answer = self.logout(*claims)
        return None if answer.status_code == 200 else answer

    def logout_everywhere(self, claims: Mapping[str, Any]) -> flask.Response:
        """Revoke every token of the claims' subject issued until now; 200 with the
        not-before, 503 + ``Retry-After`` when not confirmed."""
        return response(logout_everywhere(self.client(), claims, self.rules))
