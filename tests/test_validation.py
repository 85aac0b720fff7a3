"""Bad input gets a clear exception before anything is sent; nothing is half-written."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assertions import random_hashes
from conftest import Harness
from token_blacklist import InvalidTokenHash, TokenBlacklist, hash_token
from token_blacklist._core.validation import MAX_TTL_SECONDS, plan_blacklist, plan_checked
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
VALID = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=8, max_size=128)
INVALID_STR = st.one_of(
    st.text(max_size=7),
    st.text(min_size=129, max_size=300),
    st.text(min_size=8, max_size=128).filter(
        lambda s: any(c not in string.ascii_letters + string.digits + "_-" for c in s)
    ),
    st.just(JWT),
)
NOT_STR = st.one_of(st.none(), st.integers(), st.binary(min_size=8), st.floats())


@pytest.mark.parametrize(
    ("hashes", "ttl", "error", "words"),
    [
        ([JWT], 60, InvalidTokenHash, "raw JWT"),
        (["x1y2z3"], 60, InvalidTokenHash, "shorter than 8"),
        (["a" * 129], 60, InvalidTokenHash, "longer than 128"),
        (["abc def ghi"], 60, InvalidTokenHash, "outside [A-Za-z0-9_-]"),
        ([""], 60, InvalidTokenHash, "empty"),
        ([b"0123456789"], 60, TypeError, "must be str"),
        ("0123456789abcdef", 60, TypeError, "not a single str"),
        ({"0123456789abcdef": 1}, 60, TypeError, "not a mapping"),
        (5, 60, TypeError, "iterable"),
        (["0123456789abcdef"], True, TypeError, "not bool"),
        (["0123456789abcdef"], 1.5, TypeError, "not float"),
        (["0123456789abcdef"], 0, InvalidTokenHash, "at least 1"),
        (["0123456789abcdef"], -5, InvalidTokenHash, "at least 1"),
        (["0123456789abcdef"], 10**12, InvalidTokenHash, "at most"),
        (["0123456789abcdef"], {"other-hash-1": 5}, InvalidTokenHash, "no entry"),
        (["0123456789abcdef"], {"0123456789abcdef": "5"}, TypeError, "not str"),
        (["0123456789abcdef"], None, TypeError, "not NoneType"),
    ],
)
def test_clear_errors(hashes, ttl, error, words):
    with pytest.raises(error, match=None) as raised:
        plan_blacklist(hashes, ttl)
    assert words in str(raised.value)
    if isinstance(hashes, list):
        for item in hashes:
            if isinstance(item, str) and len(item) > 3:
                assert item not in str(raised.value), "the message repeats the input"


def test_invalid_token_hash_is_a_value_error_with_position():
    with pytest.raises(ValueError, match=r"token_hashes\[2\]") as raised:
        plan_blacklist(["a" * 10, "b" * 10, "bad!" * 3], 60)
    assert raised.value.index == 2


def test_a_raw_jwt_points_at_hash_token():
    with pytest.raises(InvalidTokenHash, match="hash_token"):
        plan_blacklist([JWT], 60)
    plan_blacklist([hash_token(JWT)], 60)  # what the message suggests works


def test_duplicates_keep_first_position():
    plan = plan_blacklist(["b" * 10, "a" * 10, "b" * 10], {"a" * 10: 5, "b" * 10: 7})
    assert plan.hashes == ["b" * 10, "a" * 10]
    assert plan.ttls(plan.hashes) == [7, 5]


@pytest.mark.parametrize("ttl", [0, MAX_TTL_SECONDS + 1, True, {"a" * 10: 5}, {"b" * 10: 0}])
def test_checked_hashes_still_get_their_ttls_validated(ttl):
    # plan_checked trusts the hashes (the revoke command's reader checked each), never a TTL.
    with pytest.raises((TypeError, ValueError)) as plain:
        plan_blacklist(["b" * 10], ttl)
    with pytest.raises(type(plain.value), match="ttl"):
        plan_checked(["b" * 10, "b" * 10], ttl)


def test_checked_plan_is_the_plan():
    hashes, ttls = ["b" * 10, "a" * 10, "b" * 10], {"a" * 10: 5, "b" * 10: 7}
    assert plan_checked(hashes, ttls) == plan_blacklist(hashes, ttls)
    assert plan_checked(hashes, 60) == plan_blacklist(hashes, 60)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    good=st.lists(VALID, max_size=5),
    bad=st.one_of(INVALID_STR, NOT_STR),
    position=st.integers(min_value=0, max_value=5),
)
def test_bad_input_writes_nothing(redis_server: RedisServer, good, bad, position):
    """Valid hashes around one bad item: an exception, and not one key written."""
    client = redis_server.client()
    client.flushall()
    capture = TelemetryCapture()
    blacklist = TokenBlacklist(client, **capture.kwargs())
    items = list(good)
    items.insert(min(position, len(items)), bad)
    with pytest.raises((InvalidTokenHash, TypeError)):
        blacklist.blacklist_tokens(items, 60)
    assert client.dbsize() == 0
    assert (
        capture.sample(
            "token_blacklist_operations_total", operation="blacklist", outcome="rejected"
        )
        == 1
    )
    assert capture.sample("token_blacklist_tokens_total", outcome="succeeded") == 0
    [event] = capture.events("token_blacklist.rejected")
    assert event["log_level"] == "warning"
    [span] = capture.spans("token_blacklist.blacklist_tokens")
    assert span.attributes["error.type"] in {"InvalidTokenHash", "TypeError"}
    client.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ttl=st.one_of(st.booleans(), st.floats(), st.integers(max_value=0), st.text(), st.none()))
def test_bad_ttl_writes_nothing(redis_server: RedisServer, ttl):
    client = redis_server.client()
    client.flushall()
    with pytest.raises((InvalidTokenHash, TypeError)):
        TokenBlacklist(client, registry=TelemetryCapture().registry).blacklist_tokens(
            random_hashes(3), ttl
        )
    assert client.dbsize() == 0
    client.close()


def test_checks_reject_bad_input_too(harness: Harness, redis_server: RedisServer):
    with pytest.raises(InvalidTokenHash):
        harness.call(redis_server, "is_blacklisted", JWT)
    with pytest.raises(TypeError):
        harness.call(redis_server, "blacklisted", "0123456789abcdef")
    assert (
        harness.capture.sample(
            "token_blacklist_operations_total", operation="check", outcome="rejected"
        )
        == 2
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"prefix": ""}, ValueError),
        ({"prefix": "has space"}, ValueError),
        ({"prefix": 5}, TypeError),
        ({"chunk_size": 0}, ValueError),
        ({"chunk_size": True}, TypeError),
        ({"retries": -1}, ValueError),
        ({"retry_backoff": -1}, ValueError),
        ({"on_check_error": "ignore"}, ValueError),
    ],
)
def test_constructor_rejects_bad_options(redis_server: RedisServer, options, error):
    with pytest.raises(error):
        TokenBlacklist(redis_server.client(), registry=TelemetryCapture().registry, **options)


def test_clients_of_the_wrong_kind_are_refused(redis_server: RedisServer):
    from token_blacklist import AsyncTokenBlacklist

    with pytest.raises(TypeError, match="AsyncTokenBlacklist"):
        TokenBlacklist(redis_server.async_client())
    with pytest.raises(TypeError, match="TokenBlacklist"):
        AsyncTokenBlacklist(redis_server.client())
    with pytest.raises(TypeError):
        TokenBlacklist(object())  # type: ignore[arg-type]


def test_hash_token():
    assert hash_token("abc") == hash_token(b"abc")
    assert len(hash_token("abc")) == 64
    assert hash_token("abc", key=b"k") != hash_token("abc")
    with pytest.raises(TypeError):
        hash_token(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        hash_token("")
    with pytest.raises(TypeError):
        hash_token("abc", key="str-key")  # type: ignore[arg-type]
