"""A revocation's expiry only ever grows (issue 13, item 2), on every standalone path.

Re-revoking a hash with a shorter TTL (an operator's typo, two services computing TTLs
differently) must leave the longer expiry in place and still count the hash succeeded:
Redis holds it for at least the requested TTL. Counts, Redis and telemetry must agree.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from assertions import PREFIX, assert_matches_redis, assert_telemetry_matches, random_hashes
from conftest import Harness
from token_blacklist import FailureReason
from token_blacklist.testing import TelemetryCapture

LONG, SHORT = 86_400, 5


def ttl_of(admin: redis.Redis, token_hash: str) -> int:
    return int(admin.ttl(f"{PREFIX}:{token_hash}"))


def test_a_shorter_re_revocation_keeps_the_longer_expiry(
    harness: Harness, redis_server: Any, admin: redis.Redis
) -> None:
    hashes = random_hashes(50)
    assert harness.blacklist(redis_server, hashes, LONG).ok
    harness = Harness(harness.mode, TelemetryCapture(), fast_path=harness.fast_path)
    fresh = random_hashes(30)
    result = harness.blacklist(redis_server, hashes + fresh, SHORT)
    assert result.requested == result.succeeded == 80 and result.ok
    assert result.round_trips == 2, "one SET NX round trip, one EXPIRE GT for the 50 present"
    assert all(LONG - 5 < ttl_of(admin, h) <= LONG for h in hashes), "shortened"
    assert all(0 < ttl_of(admin, h) <= SHORT for h in fresh)
    assert_matches_redis(result, hashes + fresh, admin)
    assert_telemetry_matches(harness.capture, result)


def test_a_longer_re_revocation_lengthens_it(
    harness: Harness, redis_server: Any, admin: redis.Redis
) -> None:
    hashes = random_hashes(20)
    assert harness.blacklist(redis_server, hashes, SHORT).ok
    ttls = {h: (LONG if i % 2 else 2) for i, h in enumerate(hashes)}  # per-hash TTLs
    result = harness.blacklist(redis_server, hashes, ttls)
    assert result.succeeded == 20 and result.ok
    for i, token_hash in enumerate(hashes):
        if i % 2:
            assert LONG - 5 < ttl_of(admin, token_hash) <= LONG
        else:  # 2 s asked, 5 s held: kept
            assert 2 < ttl_of(admin, token_hash) + 1 <= SHORT + 1


def test_a_key_without_expiry_stays_without_one(
    harness: Harness, redis_server: Any, admin: redis.Redis
) -> None:
    token_hash = random_hashes(1)[0]
    admin.set(f"{PREFIX}:{token_hash}", b"1")  # written by hand, never expires
    result = harness.blacklist(redis_server, [token_hash], SHORT)
    assert result.ok and result.succeeded == 1
    assert ttl_of(admin, token_hash) == -1


EXPIRE_DENIED = f"app on >app-pw ~{PREFIX}:* resetchannels +@connection +set +exists +ping"


def test_without_expire_rights_a_present_key_fails_exactly(
    harness: Harness, make_server: Any
) -> None:
    """The user may SET but not EXPIRE: new keys succeed, present ones fail NOPERM (their
    expiry cannot be checked or lengthened), and nothing is shortened."""
    server = make_server({"user": ["default on nopass ~* &* +@all", EXPIRE_DENIED]})
    admin = server.client()
    present = random_hashes(10)
    for token_hash in present:
        admin.set(f"{PREFIX}:{token_hash}", b"1", ex=LONG)
    fresh = random_hashes(10)
    result = harness.blacklist(
        server, present + fresh, SHORT, client_kwargs={"username": "app", "password": "app-pw"}
    )
    assert result.succeeded == 10 and set(result.failures) == set(present)
    assert set(result.failures.values()) == {FailureReason.NOPERM}
    assert all(LONG - 5 < ttl_of(admin, h) <= LONG for h in present)
    # The present keys are held (by the admin's write) but their expiry is unconfirmed.
    assert_matches_redis(result, present + fresh, admin, exact=False)
    assert_telemetry_matches(harness.capture, result)
    admin.close()


@pytest.mark.parametrize("first", [LONG, SHORT])
def test_stream_never_shortens(
    harness: Harness, redis_server: Any, admin: redis.Redis, first: int
) -> None:
    hashes = random_hashes(30)
    assert harness.blacklist(redis_server, hashes[:15], first).ok
    result = harness.call(redis_server, "blacklist_stream", iter(hashes), SHORT, chunk_size=10)
    assert result.succeeded == 30
    expected_low = LONG - 5 if first == LONG else 0
    assert all(expected_low < ttl_of(admin, h) <= max(first, SHORT) for h in hashes[:15])


def test_doctor_names_a_user_that_cannot_lengthen_an_expiry(make_server: Any) -> None:
    """The right a re-revocation needs is probed like the others (``acl-expire-tokens``)."""
    from token_blacklist.doctor import Severity, diagnose

    server = make_server({"user": ["default on nopass ~* &* +@all", EXPIRE_DENIED]})
    client = server.client(username="app", password="app-pw")
    found = {f.check: f for f in diagnose(client, PREFIX, revoke_all=False)}
    assert found["acl-expire-tokens"].severity is Severity.CRITICAL
    assert "16 of 16" in found["acl-expire-tokens"].what
    assert "+set +expire +exists" in found["acl-expire-tokens"].fix
    assert found["acl-set"].severity is Severity.OK
    client.close()
