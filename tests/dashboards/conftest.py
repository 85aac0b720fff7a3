"""Fixtures of the dashboards tests: the repository's ``dashboards`` package, promtool,
a registry filled by real calls against a real redis-server with a half-denying ACL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mixin_inspection import require_binary
from revoker_redis import ACL, PREFIX, REVOKER

from token_blacklist import TokenBlacklist
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

ROOT = Path(__file__).resolve().parents[2]
# ``dashboards`` is tooling at the repository root, not part of the installed package.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
    finally:
        client.close()
    return capture
