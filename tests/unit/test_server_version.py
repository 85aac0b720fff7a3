"""``INFO server`` -> what the server is, and whether it has what the library needs."""

from __future__ import annotations

from token_blacklist._core.server_version import EXPIRE_OPTIONS, parse_version, server_version


def test_redis_valkey_and_a_cluster_are_told_apart() -> None:
    redis62 = server_version({"redis_version": "6.2.14"})
    assert redis62 is not None and str(redis62) == "redis 6.2.14"
    assert not redis62.at_least(EXPIRE_OPTIONS)
    redis70 = server_version({"redis_version": "7.0.15"})
    assert redis70 is not None and redis70.at_least(EXPIRE_OPTIONS)
    valkey = server_version(
        {"redis_version": "7.2.4", "valkey_version": "9.1.2", "server_name": "valkey"}
    )
    assert valkey is not None and str(valkey) == "valkey 9.1.2"
    assert valkey.at_least(EXPIRE_OPTIONS)
    nodes = {"a:1": {"redis_version": "7.0.15"}, "b:2": {"redis_version": "6.2.14"}}
    lowest = server_version(nodes)
    assert lowest is not None and str(lowest) == "redis 6.2.14"


def test_what_is_not_a_version_is_none() -> None:
    assert server_version({}) is None
    assert server_version({"redis_version": "7.x"}) is None
    assert parse_version(b"7.0.15") == (7, 0, 15)
    assert parse_version(7.0) is None
