"""WSGI entry point (threads share the one sync client):

cd examples && DJANGO_DB=/tmp/app.sqlite3 gunicorn --threads 8 django_logout_app.wsgi
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_logout_app.settings")

from django.core.wsgi import get_wsgi_application

from django_logout_app import telemetry

telemetry.setup()
application = get_wsgi_application()
