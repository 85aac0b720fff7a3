"""Routes: SimpleJWT's own views (on the Redis-backed serializers set in settings), the
logout views of token_blacklist, and the example's protected views and /metrics."""

from django.urls import path
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from . import views

urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),  # revoked refresh token: 401
    path("api/token/verify/", TokenVerifyView.as_view()),
    path("api/token/blacklist/", TokenBlacklistView.as_view()),
    path("logout/", views.Logout.as_view()),
    path("logout-everywhere/", views.LogoutEverywhere.as_view()),
    path("me/", views.Me.as_view()),
    path("me-async/", views.me_async),
    path("metrics", views.metrics),
]
