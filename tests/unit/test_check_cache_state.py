"""The check cache's state machine and RESP3 reader, without I/O: the rules that make an
answer from memory safe, each shown to hold (and to matter) deterministically."""

from __future__ import annotations

import time

import pytest

from token_blacklist import CheckCache
from token_blacklist._core.check_cache import NEED_DATA, CacheState, Push, Resp3Reader, RespError


def fresh_state(**settings: float) -> CacheState:
    state = CacheState(CheckCache(**settings))  # type: ignore[arg-type]
    state.connected()
    state.heartbeat(time.monotonic())
    return state


def test_nothing_is_served_before_a_heartbeat_nor_after_the_bound():
    state = CacheState(CheckCache(max_staleness=0.05))
    state.connected()
    ticket = state.ticket()
    assert state.put(ticket, ["k"], [0])
    assert state.get(["k"]) is None  # tracking on, but no heartbeat answered yet
    state.heartbeat(time.monotonic())
    assert state.get(["k"]) == [0]
    time.sleep(0.06)
    assert state.get(["k"]) is None  # the last answered heartbeat is older than the bound


def test_a_read_overtaken_by_its_keys_invalidation_is_not_stored():
    state = fresh_state()
    ticket = state.ticket()  # the read of "k" starts
    state.invalidate(["k"])  # "k" is revoked meanwhile; the read may have seen the old value
    assert not state.put(ticket, ["k"], [0])
    assert state.get(["k"]) is None


def test_other_keys_invalidations_do_not_prevent_storing():
    state = fresh_state()
    ticket = state.ticket()
    state.invalidate(["other", "another"])
    assert state.put(ticket, ["k"], [1])
    assert state.get(["k"]) == [1]


def test_a_flush_or_too_many_invalidations_during_a_read_prevent_storing():
    state = fresh_state()
    ticket = state.ticket()
    state.invalidate(None)
    assert not state.put(ticket, ["k"], [0])
    ticket = state.ticket()
    state.invalidate([f"x{i}" for i in range(5000)])  # more than the state remembers
    assert not state.put(ticket, ["k"], [0])


def test_a_new_link_or_a_lost_one_empties_and_refuses_older_reads():
    state = fresh_state()
    assert state.put(state.ticket(), ["k"], [0])
    ticket = state.ticket()
    state.lost()
    assert state.get(["k"]) is None and len(state) == 0
    state.connected()
    state.heartbeat(time.monotonic())
    assert not state.put(ticket, ["k"], [0])  # read before the new link: not trusted
    assert state.get(["k"]) is None


def test_invalidation_removes_the_entry_and_lru_bounds_memory():
    state = fresh_state(max_entries=3)
    for key in "abcd":
        assert state.put(state.ticket(), [key], [0])
    assert len(state) == 3 and state.get(["a"]) is None  # the least recently used went
    assert state.get(["b"]) == [0]
    state.put(state.ticket(), ["e"], [0])
    assert state.get(["b"]) == [0] and state.get(["c"]) is None  # "b" was used: "c" went
    state.invalidate(["b"])
    assert state.get(["b"]) is None


def test_every_key_of_a_check_must_be_cached():
    state = fresh_state()
    state.put(state.ticket(), ["token"], [0])
    assert state.get(["token", "nbf"]) is None
    state.put(state.ticket(), ["token", "nbf"], [0, b"1700000000"])
    assert state.get(["token", "nbf"]) == [0, b"1700000000"]


def test_resp3_reader_handles_pushes_replies_and_split_input():
    wire = (
        b">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nk:1\r\n$3\r\nk:2\r\n"
        b"+PONG\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n-NOPERM no\r\n"
        b"%1\r\n+server\r\n+redis\r\n:7\r\n,1.5\r\n#t\r\n"
    )
    reader = Resp3Reader()
    got = []
    for byte in range(len(wire)):  # one byte at a time: every partial message waits
        reader.feed(wire[byte : byte + 1])
        while (message := reader.gets()) is not NEED_DATA:
            got.append(message)
    assert isinstance(got[0], Push) and got[0] == [b"invalidate", [b"k:1", b"k:2"]]
    assert got[1] == b"PONG"
    assert got[2] == [b"invalidate", None]
    assert isinstance(got[3], RespError) and str(got[3]) == "NOPERM"  # the code, not the text
    assert got[4:] == [{b"server": b"redis"}, 7, 1.5, True]


@pytest.mark.parametrize("settings", [{"max_staleness": 100}, {"heartbeat": 0.06}])
def test_settings_out_of_range(settings):
    with pytest.raises(ValueError):
        CheckCache(**settings)  # type: ignore[arg-type]


# -- a group of links (Redis Cluster: one per node, one state) ----------------------------
def test_a_group_serves_only_while_every_link_is_up_fresh_as_of_the_oldest():
    state = CacheState(CheckCache(max_staleness=0.05))
    first, second = state.join(), state.join()
    first.connected()
    first.heartbeat(time.monotonic())
    assert state.put(state.ticket(), ["k"], [0]) is False  # the second link is not up yet
    assert not state.serving()
    second.connected()
    now = time.monotonic()
    second.heartbeat(now)
    assert not state.serving()  # the first link's heartbeat predates the second's connection
    first.heartbeat(now - 0.01)
    second.heartbeat(now)
    assert state.fresh_as_of == now - 0.01  # the oldest of the newest answered heartbeats
    assert state.put(state.ticket(), ["k"], [0])
    assert state.get(["k"]) == [0]
    first.heartbeat(now + 1)  # one link's news says nothing of the other's invalidations
    assert state.fresh_as_of == now


def test_any_links_loss_or_a_topology_change_empties_the_shared_cache():
    lost: list[bool] = []
    state = CacheState(CheckCache())
    first, second = state.join(lambda: lost.append(True)), state.join()
    for member in (first, second):
        member.connected()
    for member in (first, second):
        member.heartbeat(time.monotonic())
    ticket = state.ticket()
    assert state.put(ticket, ["k"], [0])
    first.lost()
    assert lost == [True] and state.get(["k"]) is None and not state.serving()
    assert not state.put(ticket, ["k"], [0])  # a read from before the loss
    first.connected()
    for member in (first, second):
        member.heartbeat(time.monotonic())
    assert state.put(state.ticket(), ["k"], [0])
    state.reset()
    assert state.get(["k"]) is None and not state.serving()
    second.heartbeat(time.monotonic())
    first.heartbeat(time.monotonic())
    state.leave(second)  # a node gone: start empty; the others' next heartbeats serve
    assert not state.serving()
    first.heartbeat(time.monotonic())
    assert state.serving()
    second.heartbeat(time.monotonic())  # a late reply of a link that left changes nothing
    assert state.link_up


def test_cluster_nodes_reply_lists_live_nodes_with_their_roles():
    from token_blacklist._cache_target import LinkTarget, nodes_in

    asked = LinkTarget("10.0.0.9", 7000, None, None, None, None, None, 1.0)
    reply = (
        b"txt:a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
        b"b2 127.0.0.1:7001@17001,host-b master - 0 0 2 connected 5461-10922\n"
        b"c3 127.0.0.1:7002@17002 master,fail - 0 0 3 connected\n"
        b"d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected\n"
        b"e5 :7004@17004 master,fail? - 0 0 4 connected\n"
        b"f6 127.0.0.1:7005@17005 master - 0 0 5 connected\n"
        b"g7 :0@0 handshake,noaddr - 0 0 0 disconnected\n"
        b"h8 127.0.0.1:7006@17006 handshake - 0 0 0 connected\n"
    )
    assert nodes_in(reply, asked) == {
        ("127.0.0.1", 7000): "master",
        ("127.0.0.1", 7001): "master",
        ("127.0.0.1", 7003): "replica",
        ("10.0.0.9", 7004): "master",  # suspected, not failed: its link decides
        ("127.0.0.1", 7005): "master",  # no slot yet: slots may move to it
        ("127.0.0.1", 7006): "master",  # just met: linked before it can take a slot
    }
    with pytest.raises(ValueError):
        nodes_in([b"not", b"a", b"string"], asked)


def test_a_cluster_links_view_changes_with_the_node_count_or_the_epoch():
    from token_blacklist._cache_target import ClusterView, cluster_fingerprint

    def info(nodes: int, epoch: int) -> bytes:
        return (
            f"txt:cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"
            f"cluster_known_nodes:{nodes}\r\ncluster_size:3\r\n"
            f"cluster_current_epoch:{epoch}\r\ncluster_my_epoch:2\r\n"
            f"cluster_stats_messages_sent:{nodes * epoch * 17}\r\n"
        ).encode()

    assert cluster_fingerprint(info(6, 7)) == (b"6", b"7")
    view = ClusterView()
    assert not view.changed(info(6, 7))  # the first one is the reference
    assert not view.changed(info(6, 7))
    assert view.changed(info(7, 7))  # a node met
    assert view.changed(info(6, 8))  # a failover or a slot moved
    assert not view.changed(info(6, 7).decode())  # a decoded reply reads the same
