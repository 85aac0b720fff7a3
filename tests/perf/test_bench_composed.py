"""The composed floor does the work it claims, against a real server: every logout case
writes its 2 hashes with the bench TTL, every check reads without writing, and each full
case makes one span per call with the attributes the module's span carries."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from token_blacklist.bench.cases import PREFIX, TTL
from token_blacklist.bench.composed import composed_cases
from token_blacklist.server import RedisServer

CALLS = 5


def test_composed_floor_writes_reads_and_traces(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.flushall()
    aclient = redis_server.async_client()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    closers: list[object] = []
    with asyncio.Runner() as runner:
        cases = {
            case.name: case
            for case in composed_cases(client, aclient, runner, CALLS, closers, provider=provider)
        }
        assert set(cases) == {
            f"composed.{call}.{mode}.{setup}"
            for call in ("logout", "check")
            for mode in ("sync", "async")
            for setup in ("full", "unconfigured")
        } | {"composed.subject_check.sync.full", "composed.subject_check.async.full"}
        written = 0
        for name, case in sorted(cases.items()):
            exporter.clear()
            if case.setup is not None:
                case.setup()
            case.run()
            spans = exporter.get_finished_spans()
            keys = client.keys(f"{PREFIX}:*")
            if ".logout." in name:
                written += 2 * CALLS
            assert len(keys) == written, name  # logouts write 2 new keys a call, checks none
            assert all(0 < client.ttl(key) <= TTL for key in keys)
            if name.endswith(".full"):
                assert len(spans) == CALLS, name
                attributes = spans[0].attributes or {}
                assert attributes["db.system.name"] == "redis"
                if ".logout." in name:
                    assert attributes["token_blacklist.succeeded"] == 2
                    assert spans[0].name == "token_blacklist.blacklist_tokens"
                else:
                    assert attributes["token_blacklist.checked"] == 1
                    assert spans[0].name == "token_blacklist.is_blacklisted"
            else:
                assert spans == ()
        runner.run(aclient.aclose())
    for closer in closers:
        getattr(closer, "close", lambda: None)()
    client.close()
