"""The decision core with several servers: a down node stops only its own share.

Driven without a server, with replies shaped like the cluster transport's: one reply per
command, the failed node's commands all carrying its connection error.
"""

from __future__ import annotations

import redis.exceptions as rex

from token_blacklist import FailureReason
from token_blacklist._core.protocol import RetryPolicy, SendChunk, blacklist_protocol
from token_blacklist._core.validation import plan_blacklist

HASHES = [f"{i:016x}" for i in range(30)]


def node_of(token_hash: str) -> str:
    return "abc"[int(token_hash, 16) % 3]


def drive(dead: str, server_of=node_of, reply_error=None):
    """Run the core; node ``dead`` fails every command; returns (result, sent hashes)."""
    error = reply_error or rex.ConnectionError("Connection refused")
    sent: list[list[str]] = []
    protocol = blacklist_protocol(
        plan_blacklist(HASHES, 60),
        10,
        RetryPolicy(retries=2, backoff=0.0),
        server_of,
        key_prefix="p:",
    )
    try:
        request: SendChunk = next(protocol)
        while True:
            sent.append(list(request.hashes))
            replies = [error if node_of(h) == dead else True for h in request.hashes]
            request = protocol.send(replies)
    except StopIteration as stop:
        return stop.value, sent


def test_a_down_node_fails_only_its_share_and_is_not_resent_in_later_chunks():
    result, sent = drive("b")
    on_b = [h for h in HASHES if node_of(h) == "b"]
    assert result.succeeded == len(HASHES) - len(on_b)
    assert dict(result.failures) == dict.fromkeys(on_b, FailureReason.CONNECTION)
    # First chunk: sent once, then its b-share twice more (retries); later chunks: no b.
    assert sent[0] == HASHES[:10]
    first_b = [h for h in HASHES[:10] if node_of(h) == "b"]
    assert sent[1] == first_b and sent[2] == first_b
    later = [h for chunk in sent[3:] for h in chunk]
    assert later == [h for h in HASHES[10:] if node_of(h) != "b"]
    assert result.round_trips == len(sent) == 5


def test_timeouts_mark_a_node_down_the_same_way():
    result, sent = drive("c", reply_error=rex.TimeoutError("Timeout reading"))
    on_c = [h for h in HASHES if node_of(h) == "c"]
    assert set(result.reasons) == {FailureReason.TIMEOUT}
    assert result.failed == len(on_c)
    assert all(node_of(h) != "c" for chunk in sent[3:] for h in chunk)


def test_without_a_server_map_one_dead_share_stops_the_whole_call():
    """Why the map exists: as one server, the healthy nodes' later tokens would be lost."""
    result, _ = drive("b", server_of=None)
    assert result.succeeded < len(HASHES) - len([h for h in HASHES if node_of(h) == "b"])


def test_a_node_that_acknowledged_nothing_but_still_has_retries_is_not_down():
    replies_seen: list[int] = []
    protocol = blacklist_protocol(
        plan_blacklist(HASHES[:3], 60),
        10,
        RetryPolicy(retries=1, backoff=0.0),
        node_of,
        key_prefix="p:",
    )
    request = next(protocol)
    readonly = rex.ReadOnlyError("READONLY")
    first = [readonly if node_of(h) == "a" else True for h in request.hashes]
    request = protocol.send(first)
    replies_seen.append(len(request.hashes))
    try:
        protocol.send([True] * len(request.hashes))
    except StopIteration as stop:
        assert stop.value.ok
    assert replies_seen == [1]


def test_a_retriable_refusal_after_its_retries_stops_only_that_node():
    """Issue 13, item 3: a node answering READONLY (or CLUSTERDOWN, TRYAGAIN...) to every
    re-send of its share is down for the rest of the call, like a dead one; the others go
    on. Two nodes refusing with different reasons each keep their own reason."""
    for error, reason in [
        (rex.ReadOnlyError("READONLY"), FailureReason.READONLY),
        (rex.ClusterDownError("CLUSTERDOWN"), FailureReason.CLUSTER_DOWN),
        (rex.BusyLoadingError("LOADING"), FailureReason.UNAVAILABLE),
        (rex.ResponseError("NOREPLICAS not enough good replicas"), FailureReason.UNAVAILABLE),
    ]:
        result, sent = drive("a", reply_error=error)
        on_a = [h for h in HASHES if node_of(h) == "a"]
        assert dict(result.failures) == dict.fromkeys(on_a, reason)
        assert result.succeeded == len(HASHES) - len(on_a)
        assert all(node_of(h) != "a" for chunk in sent[3:] for h in chunk)
        assert result.round_trips == 5


def test_a_shared_down_map_carries_over_to_the_next_call():
    """``blacklist_stream`` hands the same map to every batch's protocol."""
    down: dict = {}
    sent: list[list[str]] = []
    for batch in (HASHES[:10], HASHES[10:]):
        protocol = blacklist_protocol(
            plan_blacklist(batch, 60), 10, RetryPolicy(retries=2, backoff=0.0), node_of,
            key_prefix="p:", down=down,
        )  # fmt: skip
        try:
            request = next(protocol)
            while True:
                sent.append(list(request.hashes))
                readonly = rex.ReadOnlyError("READONLY")
                request = protocol.send(
                    [readonly if node_of(h) == "b" else True for h in request.hashes]
                )
        except StopIteration:
            pass
    assert down == {"b": FailureReason.READONLY}
    assert all(node_of(h) != "b" for chunk in sent[3:] for h in chunk)
