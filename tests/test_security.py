"""No token, hash, key or Redis error message in any log, span, metric or exception text."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest
from prometheus_client import generate_latest
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import random_hashes
from conftest import PARTIAL_USER, Harness
from test_validation import JWT
from token_blacklist import (
    BlacklistUnavailableError,
    InvalidTokenHash,
    PartialBlacklistError,
    hash_token,
)
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

# What redis-py's messages look like: they embed the command and its key.
REDIS_MESSAGE = re.compile(r"Command # \d|NOPERM|OOM command|READONLY You|WRONGPASS|Error \d+ ")


def everything_emitted(capture: TelemetryCapture, errors: Iterable[BaseException]) -> str:
    parts = [repr(event) for event in capture.logs]
    for span in capture.spans():
        parts += [span.name, repr(dict(span.attributes or {})), str(span.status.description)]
        parts += [repr(dict(e.attributes or {})) + e.name for e in span.events]
    parts.append(generate_latest(capture.registry).decode())
    for error in errors:
        parts += [str(error), repr(error)]
    return "\n".join(parts)


def assert_clean(text: str, hashes: Iterable[str], secrets: Iterable[str] = ()) -> None:
    for token_hash in hashes:
        # not the hash, not even a 16-character piece of it
        for start in range(0, len(token_hash) - 15, 8):
            assert token_hash[start : start + 16] not in text
    for secret in secrets:
        assert secret not in text
    assert "token_blacklist:" not in text, "a Redis key leaked"
    assert not REDIS_MESSAGE.search(text), "a Redis error message leaked"


def test_failure_modes_leak_nothing(harness: Harness, acl_server: RedisServer, make_server):
    hashes = random_hashes(4, first="2") + random_hashes(4, first="d")
    errors: list[BaseException] = []
    user, password = PARTIAL_USER
    partial = harness.blacklist(
        acl_server, hashes, 60, client_kwargs={"username": user, "password": password}
    )
    assert 0 < partial.failed < partial.requested
    with pytest.raises(PartialBlacklistError) as raised:
        partial.raise_for_failures()
    errors.append(raised.value)

    down = make_server()
    down.stop()
    no_retry = {"retry": Retry(NoBackoff(), 0)}
    assert harness.blacklist(down, hashes, 60, client_kwargs=no_retry).failed == len(hashes)
    with pytest.raises(BlacklistUnavailableError) as unavailable:
        harness.call(down, "is_blacklisted", hashes[0], client_kwargs=no_retry)
    errors.append(unavailable.value)

    locked = make_server({"requirepass": "pw-1234567"})
    assert not harness.blacklist(
        locked, hashes, 60, client_kwargs={**no_retry, "password": "wrong-pw-987"}
    ).ok
    assert_clean(
        everything_emitted(harness.capture, errors), hashes, ["pw-1234567", "wrong-pw-987"]
    )


def test_rejected_raw_tokens_leak_nothing(harness: Harness, redis_server: RedisServer):
    raw = ["opaque+token/value=with=padding==", JWT]
    errors = []
    for token in raw:
        with pytest.raises(InvalidTokenHash) as raised:
            harness.blacklist(redis_server, [hash_token("ok"), token], 60)
        errors.append(raised.value)
    text = everything_emitted(harness.capture, errors)
    for token in raw:
        assert token not in text
        assert token[:20] not in text
