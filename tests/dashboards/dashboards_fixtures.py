"""Fixtures of the dashboards tests: promtool, and a registry filled by real calls against a
real redis-server with a half-denying ACL.

Not a ``conftest.py``: this directory cannot be a package (it would shadow the repository's
``dashboards`` package), and a second non-package ``conftest`` module would replace the root
one in ``sys.modules``, breaking ``from conftest import ...`` elsewhere. Test modules import
the fixtures they use from here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from mixin_inspection import require_binary
from revoker_redis import ACL, PREFIX, REVOKER

from token_blacklist import CheckCache, TokenBlacklist
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool")


@pytest.fixture(scope="module")
def revoker_server() -> Iterator[RedisServer]:
    with RedisServer({"user": ACL}) as server:
        yield server


@pytest.fixture(scope="module")
def exported(revoker_server: RedisServer) -> TelemetryCapture:
    """A registry after real blacklist calls (partial NOPERM failures) and real checks."""
    capture = TelemetryCapture()
    client = revoker_server.client(username=REVOKER[0], password=REVOKER[1])
    try:
        blacklist = TokenBlacklist(client, PREFIX, on_check_error="deny", **capture.kwargs())
        hashes = [f"{first}{'ab' * 20}" for first in "0123456789abcdef"]
        result = blacklist.blacklist_tokens(hashes, ttl=60)
        assert result.failed == 8 and result.succeeded == 8
        blacklist.blacklisted(hashes)
        # A check_cache= client in the same registry: its series, heartbeats observed.
        cached = TokenBlacklist(
            client, PREFIX, on_check_error="deny", **capture.kwargs(),
            check_cache=CheckCache(max_staleness=0.5),
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not capture.sample("token_blacklist_check_cache_heartbeat_seconds_count"):
            assert time.monotonic() < deadline, "the check cache's link never came up"
            cached.is_blacklisted(hashes[0])
            time.sleep(0.02)
        cached.close()
    finally:
        client.close()
    return capture
