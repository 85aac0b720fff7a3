"""Unit (no server): the sans-IO decision core, driven with the replies redis-py produces."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import redis.exceptions as rex

from token_blacklist import BlacklistResult, BlacklistUnavailableError, FailureReason
from token_blacklist._core.classify import classify_error, classify_reply, is_refused
from token_blacklist._core.protocol import (
    RetryPolicy,
    SendChunk,
    answer_check,
    blacklist_protocol,
    interpret_check,
)
from token_blacklist._core.validation import plan_blacklist

Server = Callable[[SendChunk], Sequence[object] | BaseException]


def drive(
    hashes: list[str], server: Server, *, chunk_size=10, **policy
) -> tuple[BlacklistResult, list[SendChunk]]:
    """Run the protocol against ``server`` (a function from request to reply)."""
    sent: list[SendChunk] = []
    protocol = blacklist_protocol(
        plan_blacklist(hashes, 60), chunk_size, RetryPolicy(**policy), key_prefix="p:"
    )
    try:
        request = next(protocol)
        while True:
            sent.append(request)
            request = protocol.send(server(request))
    except StopIteration as stop:
        return stop.value, sent


def hashes(n: int) -> list[str]:
    return [f"{i:016x}" for i in range(n)]


def refused() -> rex.ConnectionError:
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError:
            raise rex.ConnectionError("Error 111 connecting") from None
    except rex.ConnectionError as error:
        error.__context__ = ConnectionRefusedError(111, "refused")
        return error


def test_all_acknowledged():
    result, sent = drive(hashes(25), lambda r: [True] * len(r.hashes))
    assert result.ok and result.succeeded == 25 and result.chunks == 3
    assert [len(s.hashes) for s in sent] == [10, 10, 5]
    assert all(s.delay == 0 for s in sent)


def test_only_retriable_failures_are_resent_with_backoff():
    def server(request: SendChunk):
        if len(request.hashes) == 10:  # first attempt: one READONLY, one OOM
            return [rex.ReadOnlyError("x"), rex.OutOfMemoryError("x")] + [True] * 8
        return [True] * len(request.hashes)

    result, sent = drive(hashes(10), server, retries=2, backoff=0.1)
    assert result.succeeded == 9
    assert dict(result.failures) == {hashes(10)[1]: FailureReason.OOM}
    assert [s.hashes for s in sent[1:]] == [[hashes(10)[0]]]
    assert sent[1].delay == pytest.approx(0.1)


def test_retry_budget_is_bounded_and_backoff_doubles():
    result, sent = drive(hashes(3), lambda r: [rex.ReadOnlyError("x")] * len(r.hashes),
                         retries=3, backoff=0.1)  # fmt: skip
    assert result.succeeded == 0 and len(sent) == 4
    assert [s.delay for s in sent] == pytest.approx([0, 0.1, 0.2, 0.4])
    assert set(result.failures.values()) == {FailureReason.READONLY}


def test_lost_round_trip_is_resent_when_the_client_does_not_retry():
    attempts = iter([rex.ConnectionError("reset"), None])

    def server(request: SendChunk):
        error = next(attempts)
        return error if error else [True] * len(request.hashes)

    result, sent = drive(hashes(5), server, retries=2, client_retries=0)
    assert result.ok and len(sent) == 2


def test_client_retries_count_against_the_budget():
    """redis-py already re-sent the pipeline client_retries times: no product of retries."""
    result, sent = drive(hashes(5), lambda r: rex.TimeoutError("t"), retries=2, client_retries=10)
    assert len(sent) == 1 and result.failed == 5
    result, sent = drive(hashes(5), lambda r: rex.TimeoutError("t"), retries=3, client_retries=1)
    assert len(sent) == 3


def test_refused_connection_stops_the_call_at_once():
    result, sent = drive(hashes(30), lambda r: refused(), retries=2)
    assert len(sent) == 1 and result.chunks == 3
    assert result.failed == 30 and set(result.failures.values()) == {FailureReason.CONNECTION}


def test_chunk_lost_after_retries_means_down_for_the_rest():
    result, sent = drive(hashes(30), lambda r: rex.TimeoutError("t"), retries=1)
    assert len(sent) == 2 and result.failed == 30
    assert set(result.failures.values()) == {FailureReason.TIMEOUT}


def test_partial_acknowledgement_keeps_later_chunks_going():
    """One node of a cluster down: its share fails, the others' chunks still go out."""

    def server(request: SendChunk):
        return [rex.ConnectionError("node") if h.endswith("0") else True for h in request.hashes]

    result, sent = drive(hashes(30), server, retries=0)
    assert result.chunks == 3 and len(sent) == 3
    assert result.failed == 2 and result.succeeded == 28  # 0x...00 and 0x...10


def test_reply_count_mismatch_trusts_nothing():
    result, _ = drive(hashes(3), lambda r: [True], retries=0)
    assert result.succeeded == 0
    assert set(result.failures.values()) == {FailureReason.OTHER}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (rex.OutOfMemoryError("OOM command not allowed"), FailureReason.OOM),
        (rex.NoPermissionError("no perm"), FailureReason.NOPERM),
        (rex.ReadOnlyError("You can't write"), FailureReason.READONLY),
        (rex.AuthenticationError("WRONGPASS"), FailureReason.AUTH),
        (rex.BusyLoadingError("loading"), FailureReason.UNAVAILABLE),
        (rex.ResponseError("BUSY Redis is busy running a script"), FailureReason.UNAVAILABLE),
        (rex.ResponseError("CLUSTERDOWN The cluster is down"), FailureReason.CLUSTER_DOWN),
        (rex.ClusterDownError("down"), FailureReason.CLUSTER_DOWN),
        (rex.TryAgainError("again"), FailureReason.CLUSTER_DOWN),
        (rex.MovedError("3999 127.0.0.1:6381"), FailureReason.CLUSTER_DOWN),
        (rex.TimeoutError("Timeout reading"), FailureReason.TIMEOUT),
        (TimeoutError(), FailureReason.TIMEOUT),
        (rex.ConnectionError("reset"), FailureReason.CONNECTION),
        (rex.ResponseError("WRONGTYPE Operation against a key"), FailureReason.OTHER),
        (rex.ResponseError("ERR syntax error"), FailureReason.OTHER),
        (ValueError("x"), FailureReason.OTHER),
    ],
)
def test_classify_error(error, reason):
    assert classify_error(error) is reason


def test_classify_reply():
    assert classify_reply(True) is None
    assert classify_reply(b"OK") is None
    assert classify_reply(None) is FailureReason.OTHER  # SET NX/XX that did not write
    assert classify_reply(rex.ReadOnlyError("x")) is FailureReason.READONLY


def test_is_refused_follows_the_exception_chain():
    assert is_refused(refused())
    assert not is_refused(rex.ConnectionError("Connection reset by peer"))


def test_check_policies():
    keys = ["a" * 10, "b" * 10, "c" * 10]
    outcome = interpret_check(keys, [1, 0, rex.ConnectionError("x")])
    assert outcome.blacklisted == {keys[0]}
    assert outcome.errors == {keys[2]: FailureReason.CONNECTION}
    assert answer_check(outcome, "deny") == {keys[0], keys[2]}
    assert answer_check(outcome, "allow") == {keys[0]}
    with pytest.raises(BlacklistUnavailableError) as raised:
        answer_check(outcome, "raise")
    assert raised.value.reason is FailureReason.CONNECTION
    assert isinstance(raised.value.__cause__, rex.ConnectionError)
    assert answer_check(interpret_check(keys, [0, 0, 1]), "raise") == {keys[2]}


def test_check_reply_mismatch_is_an_error():
    outcome = interpret_check(["a" * 10, "b" * 10], [1])
    assert set(outcome.errors) == {"a" * 10, "b" * 10}
    assert not outcome.blacklisted


def test_result_text_carries_no_hash():
    result, _ = drive(hashes(3), lambda r: [rex.NoPermissionError("x")] * 3, retries=0)
    for text in (repr(result), str(result), result.describe()):
        assert not any(h in text for h in hashes(3))
    assert result.describe() == "3 of 3 tokens not blacklisted (noperm: 3)"
