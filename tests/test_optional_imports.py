"""The core never imports a web framework: they are optional extras. Nor does the
``token_blacklist.django_jwt`` package itself (Django imports it while loading its apps)."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("flask", "flask_jwt_extended", "django", "rest_framework", "fastapi", "starlette")


def test_the_core_imports_no_web_framework() -> None:
    code = (
        "import sys, token_blacklist, token_blacklist.web, token_blacklist.settings, "
        "token_blacklist.testing, token_blacklist.django_jwt\n"
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "[]"
