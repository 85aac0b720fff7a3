"""Telemetry unconfigured: the library stays quiet on success and speaks up on failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import random_hashes
from token_blacklist import TokenBlacklist
from token_blacklist.server import RedisServer


@contextmanager
def unconfigured_structlog() -> Iterator[None]:
    was_configured = structlog.is_configured()
    old = structlog.get_config()
    structlog.reset_defaults()
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**old)
        else:
            structlog.reset_defaults()


def test_success_prints_nothing_failure_prints_an_error(
    redis_server: RedisServer, make_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    down = make_server()
    down.stop()
    with unconfigured_structlog():
        ok = TokenBlacklist(redis_server.client(), registry=CollectorRegistry())
        assert ok.blacklist_tokens(random_hashes(2), 60).ok
        assert capsys.readouterr().out == "", "a debug event reached unconfigured stdout"

        client = down.client(retry=Retry(NoBackoff(), 0))
        failing = TokenBlacklist(client, registry=CollectorRegistry())
        assert failing.blacklist_tokens(random_hashes(2), 60).failed == 2
        assert "token_blacklist.failure" in capsys.readouterr().out
