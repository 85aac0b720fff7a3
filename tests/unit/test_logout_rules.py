"""The sans-IO rules of logout and "log out everywhere", without a server."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError, ReadOnlyError

from token_blacklist import BlacklistResult, FailureReason, InvalidTokenHash
from token_blacklist._core.commands import subject_key
from token_blacklist._core.protocol import RetryPolicy
from token_blacklist._core.subjects import (
    interpret_subject_check,
    plan_revoke_all,
    plan_subject_check,
    revoke_all_protocol,
)
from token_blacklist._core.validation import MAX_TTL_SECONDS
from token_blacklist.logout import (
    LogoutPolicy,
    logout_answer,
    plan_logout,
    remaining_ttl,
    subject_of,
)

PREFIX = "token_blacklist:"


def test_remaining_ttl_covers_the_accepted_lifetime() -> None:
    assert remaining_ttl({"exp": 160}, now=100.5) == 60  # rounded up, never short
    assert remaining_ttl({"exp": 160}, now=100.5, exp_leeway=5) == 65
    assert remaining_ttl({"exp": 100}, now=100.0) is None  # expired: no entry needed
    assert remaining_ttl({"exp": 99}, now=100.0, exp_leeway=5) == 4  # still accepted
    assert remaining_ttl({}, now=100.0) == MAX_TTL_SECONDS  # never expires
    assert remaining_ttl({"exp": True}, now=100.0) == MAX_TTL_SECONDS


def test_plan_logout_skips_expired_and_merges_duplicates() -> None:
    plan = plan_logout([("a" * 64, {"exp": 200}), ("b" * 64, {"exp": 50}), ("a" * 64, {})], 100)
    assert plan.ttls == {"a" * 64: MAX_TTL_SECONDS}
    assert plan.already_expired == 1


def test_logout_answer_tells_the_truth() -> None:
    plan = plan_logout([("a" * 64, {"exp": 200}), ("b" * 64, {"exp": 200})], 100)
    ok = BlacklistResult(requested=2, succeeded=2)
    assert logout_answer(ok, plan, LogoutPolicy()).status == 200
    partial = BlacklistResult(requested=2, succeeded=1, failures={"b" * 64: FailureReason.OOM})
    answer = logout_answer(partial, plan, LogoutPolicy(failure_status=500, retry_after=None))
    assert answer.status == 500 and answer.headers == {}
    assert answer.body["not_revoked"] == 1
    assert "b" * 64 not in str(answer.body)


def test_subject_of_rejects_unknown_issue_times() -> None:
    assert subject_of({"sub": "u", "iat": 12}) == ("u", 12.0)
    assert subject_of({"sub": "u"}) == ("u", 0.0)  # unknown iat: any not-before rejects it
    assert subject_of({"iat": 12}) is None
    assert subject_of({"sub": 42, "iat": 12}) == ("42", 12.0)
    assert subject_of({"sub": True, "iat": 12}) is None


def test_not_before_is_rounded_up_past_the_clock_skew() -> None:
    plan = plan_revoke_all(PREFIX, "u", 3600, now=100.2, clock_skew=1.0)
    assert plan.not_before == 102
    # A token issued just before the not-before stays valid ttl more seconds.
    assert plan.expire_seconds == 3600 + 2
    assert plan.key == subject_key(PREFIX, "u") and "u" not in plan.key.split(":")
    with pytest.raises(InvalidTokenHash):
        plan_revoke_all(PREFIX, "u", 60, now=100.0, clock_skew=-1)
    with pytest.raises(TypeError):
        plan_revoke_all(PREFIX, 7, 60, now=100.0, clock_skew=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "blacklisted", "by_subject", "error"),
    [
        ([0, None], False, False, None),  # no not-before for the subject
        ([0, 102.0], True, True, None),  # iat 101 < 102
        ([0, b"101"], False, False, None),  # raw RESP2 score, iat 101 is not before 101
        ([1, None], True, False, None),  # the token's own key
        ([1, NoPermissionError("x")], True, False, None),  # settled despite the error
        ([0, NoPermissionError("x")], False, False, FailureReason.NOPERM),
        ([ReadOnlyError("x"), 5.0], False, False, FailureReason.READONLY),
        ([0, b"not a number"], False, False, FailureReason.OTHER),
        ([0], False, False, FailureReason.OTHER),
        (RedisConnectionError("x"), False, False, FailureReason.CONNECTION),
    ],
)
def test_subject_check_replies(
    reply: object, blacklisted: bool, by_subject: bool, error: FailureReason | None
) -> None:
    check = plan_subject_check(PREFIX, "u", 101)
    assert check is not None
    outcome, revoked_by_subject = interpret_subject_check("h" * 64, check, reply)  # type: ignore[arg-type]
    assert bool(outcome.blacklisted) is blacklisted
    assert revoked_by_subject is by_subject
    assert outcome.errors == ({} if error is None else {"h" * 64: error})


def test_subject_check_needs_both_halves() -> None:
    assert plan_subject_check(PREFIX, None, None) is None
    with pytest.raises(TypeError):
        plan_subject_check(PREFIX, "u", None)
    with pytest.raises(InvalidTokenHash):
        plan_subject_check(PREFIX, "u", float("nan"))


def drive(replies: list[object]) -> tuple[list[float], object]:
    plan = plan_revoke_all(PREFIX, "u", 60, now=100.0, clock_skew=0)
    protocol = revoke_all_protocol(plan, RetryPolicy(retries=2, backoff=0.1))
    delays = []
    request = next(protocol)
    try:
        for reply in replies:
            delays.append(request.delay)
            request = protocol.send(reply)  # type: ignore[arg-type]
    except StopIteration as stop:
        return delays, stop.value
    raise AssertionError("the protocol wants more replies")


def test_revoke_all_retries_what_may_change_and_only_that() -> None:
    delays, result = drive([[ReadOnlyError("x")], [1]])  # one script: one reply
    assert result.ok and result.round_trips == 2 and delays == [0.0, 0.1]  # type: ignore[attr-defined]
    _, result = drive([[NoPermissionError("x")]])
    assert result.reason is FailureReason.NOPERM and result.round_trips == 1  # type: ignore[attr-defined]
    _, result = drive([[ReadOnlyError("x")]] * 3)
    assert result.reason is FailureReason.READONLY and result.round_trips == 3  # type: ignore[attr-defined]
    _, result = drive([[1, 1]])  # a transport that sent a reply too many: trust nothing
    assert not result.ok and result.reason is FailureReason.OTHER  # type: ignore[attr-defined]
    _, result = drive([[True]])  # not the script's 1: something else answered
    assert not result.ok and result.reason is FailureReason.OTHER  # type: ignore[attr-defined]
