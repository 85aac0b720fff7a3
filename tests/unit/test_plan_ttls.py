"""``plan_blacklist`` with a TTL per hash: the C-level pass accepts exactly what the rule
by rule check accepts, and each refusal still names its position."""

from __future__ import annotations

import enum

import pytest

from token_blacklist import InvalidTTL
from token_blacklist._core.validation import MAX_TTL_SECONDS, plan_blacklist

A, B = "a" * 64, "b" * 64


class Seconds(enum.IntEnum):
    MINUTE = 60


def test_valid_mappings_keep_each_ttl() -> None:
    plan = plan_blacklist([A, B, A], {A: 1, B: MAX_TTL_SECONDS, "c" * 64: 5})
    assert plan.hashes == [A, B]
    assert plan.ttl == {A: 1, B: MAX_TTL_SECONDS}
    assert plan_blacklist([A], {A: Seconds.MINUTE}).ttls([A]) == [60]  # an int subclass
    assert plan_blacklist([], {}).ttl == {}


@pytest.mark.parametrize(
    ("ttls", "error", "message"),
    [
        ({A: 60}, InvalidTTL, r"ttl mapping has no entry for token_hashes\[1\]"),
        ({A: 60, B: 0}, InvalidTTL, r"ttl of token_hashes\[1\] must be at least 1 second"),
        ({A: 60, B: MAX_TTL_SECONDS + 1}, InvalidTTL, r"ttl of token_hashes\[1\] must be at most"),
        ({A: True, B: 60}, TypeError, r"ttl of token_hashes\[0\] must be an int"),
        ({A: 60, B: 6.0}, TypeError, r"ttl of token_hashes\[1\] must be an int"),
    ],
)
def test_each_refusal_names_its_position(
    ttls: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        plan_blacklist([A, B], ttls)
