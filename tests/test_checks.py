"""Checks against real Redis, and what each on_check_error policy answers when it fails."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from assertions import random_hashes
from conftest import PARTIAL_USER, Harness
from token_blacklist import BlacklistUnavailableError, FailureReason
from token_blacklist._compat import errors
from token_blacklist.server import RedisServer


def test_checks_see_what_was_blacklisted(harness: Harness, redis_server: RedisServer, admin):
    revoked, other = random_hashes(3), random_hashes(2)
    assert harness.blacklist(redis_server, revoked, 60).ok
    assert harness.call(redis_server, "is_blacklisted", revoked[0]) is True
    assert harness.call(redis_server, "is_blacklisted", other[0]) is False
    assert harness.call(redis_server, "blacklisted", revoked + other) == set(revoked)
    assert harness.call(redis_server, "blacklisted", []) == set()
    sample = harness.capture.sample
    assert sample("token_blacklist_checks_total", result="blacklisted") == 4
    assert sample("token_blacklist_checks_total", result="not_blacklisted") == 3
    assert sample("token_blacklist_checks_total", result="error") == 0
    assert sample("token_blacklist_operations_total", operation="check", outcome="success") == 4
    spans = harness.capture.spans("token_blacklist.check")
    assert [s.attributes["token_blacklist.checked"] for s in spans] == [1, 1, 5, 0]
    assert [s.attributes["token_blacklist.blacklisted"] for s in spans] == [1, 0, 3, 0]
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


@pytest.fixture
def down_server(make_server) -> RedisServer:
    server = make_server()
    server.stop()
    return server


NO_RETRY = {"retry": None}


@pytest.mark.parametrize(("policy", "answer"), [("deny", True), ("allow", False)])
def test_policy_answers_when_redis_is_down(
    harness: Harness, down_server: RedisServer, policy: str, answer: bool
):
    token_hash = random_hashes(1)[0]
    got = harness.call(
        down_server, "is_blacklisted", token_hash, on_check_error=policy, client_kwargs=NO_RETRY
    )
    assert got is answer
    got_set = harness.call(
        down_server, "blacklisted", [token_hash], on_check_error=policy, client_kwargs=NO_RETRY
    )
    assert got_set == ({token_hash} if answer else set())
    capture = harness.capture
    assert capture.sample("token_blacklist_checks_total", result="error") == 2
    assert capture.sample("token_blacklist_checks_total", result="blacklisted") == 0
    assert (
        capture.sample("token_blacklist_operations_total", operation="check", outcome="failure")
        == 2
    )
    events = capture.events("token_blacklist.check_failed")
    assert [e["policy"] for e in events] == [policy, policy]
    assert events[0]["reasons"] == {"connection": 1} and events[0]["log_level"] == "error"
    span = capture.spans("token_blacklist.check")[0]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "connection"
    assert span.attributes["token_blacklist.on_check_error"] == policy


def test_raise_policy_raises_a_clean_library_error(harness: Harness, down_server: RedisServer):
    token_hash = random_hashes(1)[0]
    with pytest.raises(BlacklistUnavailableError) as raised:
        harness.call(down_server, "is_blacklisted", token_hash, client_kwargs=NO_RETRY)
    error = raised.value
    assert error.reason is FailureReason.CONNECTION
    assert isinstance(error.__cause__, errors("ConnectionError"))  # redis-py or valkey-py
    assert str(error) == "token blacklist unavailable (connection)"
    assert harness.capture.sample("token_blacklist_checks_total", result="error") == 1


def test_partly_unanswered_check(harness: Harness, acl_server: RedisServer):
    """An ACL user may read only part of the prefix: the rest are errors, per key."""
    admin = acl_server.client()
    admin.flushall()
    allowed, denied = random_hashes(3, first="1"), random_hashes(2, first="e")
    for token_hash in allowed[:2] + denied[:1]:
        admin.set(f"token_blacklist:{token_hash}", 1, ex=60)
    user, password = PARTIAL_USER
    got = harness.call(
        acl_server,
        "blacklisted",
        allowed + denied,
        on_check_error="deny",
        client_kwargs={"username": user, "password": password},
    )
    assert got == set(allowed[:2]) | set(denied)
    capture = harness.capture
    assert capture.sample("token_blacklist_checks_total", result="blacklisted") == 2
    assert capture.sample("token_blacklist_checks_total", result="not_blacklisted") == 1
    assert capture.sample("token_blacklist_checks_total", result="error") == 2
    assert (
        capture.sample("token_blacklist_operations_total", operation="check", outcome="partial")
        == 1
    )
    [event] = capture.events("token_blacklist.check_failed")
    assert event["log_level"] == "warning" and event["reasons"] == {"noperm": 2}
