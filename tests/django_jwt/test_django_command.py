"""``manage.py token_blacklist``: the CLI against the Redis and prefix of the settings."""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError

from token_blacklist.server import RedisServer


@pytest.fixture(autouse=True)
def _keep_sigterm() -> Iterator[None]:
    """The CLI turns SIGTERM into an interrupt for its own process: not for the suite's."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def test_revoke_writes_under_the_settings_prefix(
    redis_server: RedisServer, admin: redis.Redis, settings: Any, tmp_path: Path, capsys: Any
) -> None:
    settings.TOKEN_BLACKLIST = {"REDIS_URL": redis_server.url, "PREFIX": "shop"}
    hashes = [secrets.token_hex(32) for _ in range(3)]
    source = tmp_path / "hashes.txt"
    source.write_text("".join(f"{h}\n" for h in hashes))
    call_command("token_blacklist", "revoke", "--ttl", "600", str(source))
    assert sorted(admin.keys("shop:*")) == sorted(f"shop:{h}".encode() for h in hashes)
    assert all(590 <= admin.ttl(f"shop:{h}") <= 600 for h in hashes)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_code:  # check: exit 3 when one is not revoked
        call_command("token_blacklist", "check", hashes[0], secrets.token_hex(32))
    assert exit_code.value.code == 3


def test_doctor_reads_the_settings_redis(
    redis_server: RedisServer, admin: redis.Redis, settings: Any, capsys: Any
) -> None:
    settings.TOKEN_BLACKLIST = {"REDIS_URL": redis_server.url, "PREFIX": "shop"}
    capsys.readouterr()
    call_command("token_blacklist", "doctor", "--json", "--no-probe")
    report = json.loads(capsys.readouterr().out)
    assert report["where"] == redis_server.url
    assert {f["check"] for f in report["findings"]} >= {"persistence", "role"}


def test_sentinel_settings_are_refused(settings: Any) -> None:
    settings.TOKEN_BLACKLIST = {"SENTINELS": ["127.0.0.1:26379"], "SENTINEL_SERVICE": "main"}
    with pytest.raises(CommandError, match="Sentinel"):
        call_command("token_blacklist", "doctor")
