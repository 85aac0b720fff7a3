"""ASGI entry point (sync DRF views run in Django's thread pool, ``/me-async/`` on the loop):

cd examples && DJANGO_DB=/tmp/app.sqlite3 uvicorn django_logout_app.asgi:application
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_logout_app.settings")

from django.core.asgi import get_asgi_application

from django_logout_app import telemetry

telemetry.setup()
application = get_asgi_application()
