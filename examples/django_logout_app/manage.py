#!/usr/bin/env python
"""``python examples/django_logout_app/manage.py migrate|createsuperuser|runserver``."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_logout_app.settings")
    from django.core.management import execute_from_command_line

    from django_logout_app import telemetry

    telemetry.setup()
    execute_from_command_line(sys.argv)
