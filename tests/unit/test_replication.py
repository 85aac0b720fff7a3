"""The pure part of the Sentinel transport: when a chunk's writes count."""

from __future__ import annotations

import redis.exceptions as rex

from token_blacklist import FailureReason
from token_blacklist._core.classify import RETRIABLE, classify_reply
from token_blacklist._core.replication import confirm_replicated, not_replicated


def test_writes_count_when_enough_replicas_confirm():
    assert confirm_replicated([True, True, 2], 2) == ([True, True], True)


def test_unconfirmed_writes_are_unavailable_and_errors_stay():
    oom = rex.OutOfMemoryError("OOM command not allowed")
    writes, confirmed = confirm_replicated([True, oom, 1], 2)
    assert not confirmed
    assert writes[1] is oom
    assert classify_reply(writes[0]) is FailureReason.UNAVAILABLE
    assert FailureReason.UNAVAILABLE in RETRIABLE


def test_a_failed_wait_confirms_nothing():
    writes, confirmed = confirm_replicated([True, rex.ResponseError("ERR WAIT")], 1)
    assert not confirmed and classify_reply(writes[0]) is FailureReason.UNAVAILABLE


def test_the_unconfirmed_reply_carries_no_key():
    assert "token_blacklist" not in str(not_replicated())
