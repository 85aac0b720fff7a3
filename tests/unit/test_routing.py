"""The cluster routing decisions, driven without a server (``cluster_routing.exchange``)."""

from __future__ import annotations

import redis.exceptions as rex

from token_blacklist._core.routing import Exchange, exchange

NODES = {"k1": "a:1", "k2": "b:2", "k3": "a:1", "k4": "c:3"}
COMMANDS = [("SET", key, b"1", "EX", 60) for key in NODES]


def start(commands=COMMANDS, locate=NODES.__getitem__):
    flow = exchange(commands, locate)
    return flow, next(flow)


def finish(flow, replies):
    try:
        flow.send(replies)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the exchange asked for another step")


def test_one_batch_per_node_and_replies_back_in_command_order():
    flow, step = start()
    assert [(b.node, b.positions) for b in step.batches] == [
        ("a:1", [0, 2]),
        ("b:2", [1]),
        ("c:3", [3]),
    ]
    outcome = finish(flow, [[True, "A3"], ["B2"], ["C4"]])
    assert outcome.replies == [True, "B2", "A3", "C4"]
    assert outcome.nodes == {"a:1", "b:2", "c:3"} and not outcome.failed


def test_a_lost_node_fails_exactly_its_commands():
    flow, _ = start()
    lost = rex.ConnectionError("Connection refused")
    outcome = finish(flow, [[True, True], lost, [True]])
    assert outcome.replies == [True, lost, True, True]
    assert outcome.failed == {"b:2"} and outcome.refresh == "b:2"


def test_after_a_broken_read_the_rest_of_the_node_share_is_lost_too():
    flow, _ = start()
    timeout = rex.TimeoutError("Timeout reading")
    outcome = finish(flow, [[timeout, rex.ConnectionError("closed")], [True], [True]])
    assert outcome.replies[0] is timeout and outcome.replies[2] is timeout
    assert outcome.refresh is None, "a timeout says nothing about the slot map"


def test_ask_is_sent_with_asking_and_moved_updates_the_slot_map():
    flow, _ = start()
    ask = rex.AskError("1234 127.0.0.1:7002")
    moved = rex.MovedError("99 127.0.0.1:7003")
    step: Exchange = flow.send([[ask, True], [moved], [True]])
    batches = {b.node: b for b in step.batches}
    assert step.moved == [moved]
    assert batches["127.0.0.1:7002"].commands == [("ASKING",), COMMANDS[0]]
    assert batches["127.0.0.1:7002"].asking
    assert batches["127.0.0.1:7003"].commands == [COMMANDS[1]]
    replies = [["OK", True] if b.asking else [True] for b in step.batches]
    outcome = finish(flow, replies)
    assert outcome.replies == [True, True, True, True]


def test_redirects_stop_after_a_few_hops_and_the_error_is_the_reply():
    flow, _ = start(COMMANDS[:1])
    moved = rex.MovedError("5 127.0.0.1:7003")
    for _ in range(3):
        step = flow.send([[moved]])
        assert [b.node for b in step.batches] == ["127.0.0.1:7003"]
    outcome = finish(flow, [[moved]])
    assert outcome.replies == [moved]


def test_an_uncovered_slot_is_that_command_reply_without_a_round_trip():
    uncovered = rex.SlotNotCoveredError("Slot not covered")

    def locate(key: str) -> str:
        if key == "k2":
            raise uncovered
        return NODES[key]

    flow, step = start(locate=locate)
    assert all(1 not in b.positions for b in step.batches)
    outcome = finish(flow, [[True] * len(b.positions) for b in step.batches])
    assert outcome.replies[1] is uncovered
