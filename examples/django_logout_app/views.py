"""The example's views: who am I (sync DRF and plain async Django), logout with a log line,
and the Prometheus metrics the library writes."""

from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError

from token_blacklist.django_jwt.tokens import AccessToken, RevocationUnavailable
from token_blacklist.django_jwt.views import LogoutEverywhereView, LogoutView

log = structlog.get_logger("example.django")


class Me(APIView):
    """Any protected DRF view: a revoked access token never gets here (401)."""

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.get_username()})


async def me_async(request: HttpRequest) -> JsonResponse:
    """A plain async Django view, checked through the event loop's asyncio client."""
    kind, _, raw = request.headers.get("Authorization", "").partition(" ")
    if kind != "Bearer" or not raw:
        return JsonResponse({"detail": "bearer token required"}, status=401)
    try:
        token = await AccessToken.averified(raw)
    except TokenError as error:
        return JsonResponse({"detail": str(error)}, status=401)
    except RevocationUnavailable as unavailable:
        answer = unavailable.answer
        return JsonResponse(answer.body, status=answer.status, headers=answer.headers)
    return JsonResponse({"user_id": token["user_id"]})


class Logout(LogoutView):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        answer = super().post(request, *args, **kwargs)
        log.info("app.logout", status=answer.status_code)  # no user id: ids stay out of logs
        return answer


class LogoutEverywhere(LogoutEverywhereView):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        answer = super().post(request, *args, **kwargs)
        log.info("app.logout_everywhere", status=answer.status_code)
        return answer


def metrics(request: HttpRequest) -> HttpResponse:
    """The library's series (from the registry it was given, else the default one)."""
    registry = settings.TOKEN_BLACKLIST.get("CLIENT_OPTIONS", {}).get("registry") or REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
