"""Django REST framework SimpleJWT integration (``pip install 'token-blacklist[django]'``).

Revocation in Redis instead of simplejwt's database ``token_blacklist`` app (leave that app
out of ``INSTALLED_APPS``), for access tokens too. In ``settings.py``::

    INSTALLED_APPS = [..., "rest_framework", "token_blacklist.django_jwt"]  # validates at start-up
    TOKEN_BLACKLIST = {"REDIS_URL": "redis://localhost:6379/0", "ON_CHECK_ERROR": "raise"}
    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [
        "token_blacklist.django_jwt.authentication.BlacklistJWTAuthentication"]}
    OURS = "token_blacklist.django_jwt"
    SIMPLE_JWT = {
        "AUTH_TOKEN_CLASSES": [f"{OURS}.tokens.AccessToken"],
        "ROTATE_REFRESH_TOKENS": True,  # the old refresh token is revoked on each refresh
        "TOKEN_OBTAIN_SERIALIZER": f"{OURS}.serializers.TokenObtainPairSerializer",
        "TOKEN_REFRESH_SERIALIZER": f"{OURS}.serializers.TokenRefreshSerializer",
        "TOKEN_VERIFY_SERIALIZER": f"{OURS}.serializers.TokenVerifySerializer",
        "TOKEN_BLACKLIST_SERIALIZER": f"{OURS}.serializers.TokenBlacklistSerializer",
        "SLIDING_TOKEN_REFRESH_SERIALIZER": f"{OURS}.serializers.TokenRefreshSlidingSerializer",
    }

and ``path("logout/", LogoutView.as_view())``, ``path("logout-everywhere/",
LogoutEverywhereView.as_view())`` from :mod:`.views`. The modules: :mod:`.tokens` (the
token classes and their mixin), :mod:`.authentication`, :mod:`.serializers`, :mod:`.views`,
:mod:`.config` (the process's client, built once from ``settings.TOKEN_BLACKLIST``; the
keys are those of :mod:`token_blacklist.settings`). Nothing is imported here: Django loads
this package while its apps are not ready yet.
"""
