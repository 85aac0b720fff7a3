"""An application that installs its global OpenTelemetry SDK after building the client
(the usual order: clients at import, tracing in ``main()``) gets the client's spans from
then on. The global provider can be set once per process: each case runs in a child."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from token_blacklist.server import RedisServer

SCRIPT = textwrap.dedent(
    """
    import sys
    import redis
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry
    from token_blacklist import TokenBlacklist
    from token_blacklist._observability.recorder import global_provider_unset

    # The API's module global this library reads (with a fallback): renamed, this says so.
    assert hasattr(trace, "_TRACER_PROVIDER"), "opentelemetry-api renamed _TRACER_PROVIDER"
    blacklist = TokenBlacklist(redis.Redis.from_url(sys.argv[1]), registry=CollectorRegistry())
    hashes = ["%064x" % n for n in range(1, 5)]
    assert global_provider_unset()
    assert blacklist.blacklist_tokens(hashes[:2], 60).ok
    assert blacklist.is_blacklisted(hashes[0]) is True
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert not exporter.get_finished_spans()
    trace.set_tracer_provider(provider)
    assert not global_provider_unset()
    assert blacklist.blacklist_tokens(hashes[2:], 60).ok
    assert blacklist.is_blacklisted(hashes[3]) is True
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == ["token_blacklist.blacklist_tokens", "token_blacklist.check"], names
    print("ok")
    """
)


def test_a_global_sdk_installed_after_the_client_gets_its_spans(redis_server: RedisServer):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, redis_server.url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
