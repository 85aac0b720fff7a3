"""Settings of the example project: SimpleJWT with the Redis-backed token classes,
serializers and authentication (no ``rest_framework_simplejwt.token_blacklist`` app).

Environment: ``REDIS_URL`` (redis://localhost:6379/0), ``DJANGO_SECRET_KEY`` (random per
process when unset: tokens then die with it), ``DJANGO_DB`` (sqlite file; in memory when
unset). No side effect here: logging and tracing are set up by the entry points
(``manage.py``, ``asgi.py``, ``wsgi.py``, ``demo.py``) through ``telemetry.setup``.
"""

import os
import secrets
from datetime import timedelta

ACCESS_LIFETIME = timedelta(minutes=15)
REFRESH_LIFETIME = timedelta(days=7)
VERIFY_LEEWAY = 5
"""Seconds of skew accepted on exp; the blacklist keeps entries that much longer."""

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_hex(32)
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
USE_TZ = True
ROOT_URLCONF = "django_logout_app.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "token_blacklist.django_jwt",  # validates TOKEN_BLACKLIST at start-up; manage.py command
]
MIDDLEWARE: list[str] = []  # opentelemetry-instrumentation-django inserts its own
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", ":memory:"),
    }
}

OURS = "token_blacklist.django_jwt"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [f"{OURS}.authentication.BlacklistJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": REFRESH_LIFETIME,
    "LEEWAY": VERIFY_LEEWAY,
    "ROTATE_REFRESH_TOKENS": True,  # and the old refresh token is revoked (ours always does)
    "UPDATE_LAST_LOGIN": False,
    "AUTH_TOKEN_CLASSES": [f"{OURS}.tokens.AccessToken"],
    "TOKEN_OBTAIN_SERIALIZER": f"{OURS}.serializers.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": f"{OURS}.serializers.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": f"{OURS}.serializers.TokenVerifySerializer",
    "TOKEN_BLACKLIST_SERIALIZER": f"{OURS}.serializers.TokenBlacklistSerializer",
}
TOKEN_BLACKLIST = {
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    "ON_CHECK_ERROR": "raise",  # Redis down: 503 + Retry-After, never a silent accept
}
