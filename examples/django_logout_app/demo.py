"""Self-contained run of the example: a private redis-server, an in-memory database with
one user, then log in, use the access token, log out, reuse it; prints the log lines, the
answers and the logout's trace (one line per span: trace id, then the name indented by
depth).

    python examples/django_logout_app/demo.py

Needs ``pip install 'token-blacklist[django,test]'``. tests/django_jwt checks its output.
"""

import logging
import os
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_logout_app.settings"
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from token_blacklist.server import RedisServer

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with RedisServer() as server:
        os.environ["REDIS_URL"] = server.url
        from django_logout_app import telemetry

        telemetry.setup(provider, level=logging.DEBUG)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        get_user_model().objects.create_user("alice", password="demo-password")  # noqa: S106
        http = Client()
        pair = http.post("/api/token/", {"username": "alice", "password": "demo-password"}).json()
        bearer = {"Authorization": f"Bearer {pair['access']}"}
        print("GET /me/ ->", http.get("/me/", headers=bearer).status_code)
        exporter.clear()
        body = {"refresh": pair["refresh"]}
        answer = http.post("/logout/", body, content_type="application/json", headers=bearer)
        print("POST /logout/ ->", answer.status_code, answer.json())
        spans = list(exporter.get_finished_spans())
        print("GET /me/ again ->", http.get("/me/", headers=bearer).status_code)
        refresh = http.post("/api/token/refresh/", body, content_type="application/json")
        print("POST /api/token/refresh/ with it ->", refresh.status_code)
        exposition = http.get("/metrics").content.decode()
    print("GET /metrics ->")
    for line in exposition.splitlines():
        if line.startswith(("token_blacklist_tokens_total", "token_blacklist_checks_total")):
            print("  " + line)
    print_trace(spans)


def print_trace(spans: list[Any]) -> None:
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        depth, parent = 0, span.parent
        while parent is not None and parent.span_id in by_id:
            depth, parent = depth + 1, by_id[parent.span_id].parent
        print(f"{format(span.context.trace_id, '032x')} {'  ' * depth}{span.name}")


if __name__ == "__main__":
    main()
