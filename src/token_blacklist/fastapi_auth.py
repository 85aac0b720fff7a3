"""FastAPI integration (``pip install 'token-blacklist[fastapi]'``): reject revoked bearer
tokens, log out, and log out everywhere, with answers that tell the client the truth.

    auth = BlacklistAuth(lambda request: request.app.state.blacklist, verify=verify_jwt)

    @app.get("/me")
    async def me(token: Annotated[PresentedToken, Depends(auth.require)]): ...

    @app.post("/logout")
    async def logout(request: Request, token: Annotated[PresentedToken, Depends(auth.presented)]):
        return await auth.logout(request, token)

``verify(token) -> claims | None`` is the application's own signature and expiry check
(PyJWT, authlib...): this module never decodes a token itself. Only the asyncio client is
supported (:class:`AsyncTokenBlacklist`, created per event loop, typically in the lifespan).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ._async.client import AsyncTokenBlacklist
from .logout import HttpAnswer, LogoutPolicy, check_failed_answer
from .web import NO_SUBJECT, RevocationRules, Verdict, acheck, alogout, alogout_everywhere

__all__ = ["BlacklistAuth", "LogoutPolicy", "PresentedToken"]

Verify = Callable[[str], Mapping[str, Any] | None]
BlacklistSource = AsyncTokenBlacklist | Callable[[Request], AsyncTokenBlacklist]

_bearer = HTTPBearer(auto_error=False)
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """A bearer token whose signature the application verified. Its ``repr`` shows neither
    the token, its hash nor its claims (they hold the subject)."""

    token: str = field(repr=False)
    claims: Mapping[str, Any] = field(repr=False)
    token_hash: str = field(repr=False)


def _response(answer: HttpAnswer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


class BlacklistAuth:
    """Dependencies and logout helpers around one :class:`AsyncTokenBlacklist`.

    ``blacklist`` is the client or a function of the request returning it (e.g. from
    ``request.app.state``). ``hash_key``: the HMAC key given to :func:`hash_token`, if the
    application uses one. ``max_token_lifetime``: the longest lifetime of any token the
    application issues (refresh tokens included), the TTL of a ``revoke_all`` entry.
    ``clock_skew``: how far the token issuer's clock may run ahead of this process's (see
    :mod:`.subjects`). ``policy``: status and ``Retry-After`` when Redis fails.
    ``honour_revoke_all=False`` skips the subject's not-before in checks (one command less
    per request) for applications that never call :meth:`logout_everywhere`.
    """

    def __init__(
        self,
        blacklist: BlacklistSource,
        verify: Verify,
        *,
        hash_key: bytes | None = None,
        max_token_lifetime: int = 30 * 24 * 3600,
        clock_skew: float = 1.0,
        policy: LogoutPolicy | None = None,
        honour_revoke_all: bool = True,
    ) -> None:
        self._source = blacklist
        self._verify = verify
        self.rules = RevocationRules(
            hash_key=hash_key,
            max_token_lifetime=max_token_lifetime,
            clock_skew=clock_skew,
            policy=policy or LogoutPolicy(),
            honour_revoke_all=honour_revoke_all,
        )

    @property
    def policy(self) -> LogoutPolicy:
        return self.rules.policy

    def blacklist(self, request: Request) -> AsyncTokenBlacklist:
        source = self._source
        return source if isinstance(source, AsyncTokenBlacklist) else source(request)

    def token(self, token: str | None) -> PresentedToken | None:
        """Verify a raw token (e.g. a refresh token from the body); None when it is
        missing or invalid."""
        if not token:
            return None
        claims = self._verify(token)
        if claims is None:
            return None
        return PresentedToken(token, claims, self.rules.hash(token))

    async def presented(
        self,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> PresentedToken:
        """Dependency: a verified bearer token, revoked or not (for logout, which must stay
        retryable after a partial failure). 401 without a valid token."""
        presented = self.token(credentials.credentials) if credentials else None
        if presented is None:
            raise HTTPException(401, "invalid or missing bearer token", headers=_UNAUTHORIZED)
        return presented

    async def require(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> PresentedToken:
        """Dependency: a verified bearer token that is neither blacklisted nor issued before
        its subject's ``revoke_all``; 401 otherwise. When Redis fails, the client's
        ``on_check_error`` decides: ``"deny"`` -> 401, ``"allow"`` -> accepted,
        ``"raise"`` -> the policy's failure status with ``Retry-After``."""
        return await self.check(request, await self.presented(credentials))

    async def check(self, request: Request, presented: PresentedToken) -> PresentedToken:
        """What :meth:`require` does once the token is verified; use it for tokens that do
        not come as a bearer header (a refresh token in a body). Raises the same
        :class:`HTTPException` s; returns ``presented`` when it is still valid."""
        verdict = await acheck(
            self.blacklist(request), (presented.token_hash, presented.claims), self.rules
        )
        if verdict is Verdict.UNAVAILABLE:
            answer = check_failed_answer(self.policy)
            raise HTTPException(answer.status, answer.body["detail"], answer.headers)
        if verdict is Verdict.INVALID:  # a subject the core refuses: not a token we issued
            raise HTTPException(401, "invalid bearer token", headers=_UNAUTHORIZED)
        if verdict is Verdict.REVOKED:
            raise HTTPException(401, "token revoked", headers=_UNAUTHORIZED)
        return presented

    async def logout(self, request: Request, *tokens: PresentedToken | None) -> JSONResponse:
        """Revoke the given tokens (access and refresh) until their ``exp``; tokens already
        expired need no entry. 200 with counts, or the policy's failure status with
        ``Retry-After`` when any token is still valid."""
        presented = ((t.token_hash, t.claims) for t in tokens if t is not None)
        return _response(await alogout(self.blacklist(request), presented, self.rules))

    async def logout_everywhere(self, request: Request, token: PresentedToken) -> JSONResponse:
        """Revoke every token of ``token``'s subject issued until now (``revoke_all``)."""
        answer = await alogout_everywhere(self.blacklist(request), token.claims, self.rules)
        if answer is NO_SUBJECT:
            raise HTTPException(400, answer.body["detail"])
        return _response(answer)
