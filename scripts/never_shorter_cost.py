"""What "a revocation's expiry only grows" costs on the wire, vs plain ``SET k 1 EX ttl``.

Each scheme writes chunks of 1,000 fresh keys (the common case: a hash revoked for the
first time) on one raw socket, every reply read with hiredis, against a private
redis-server on loopback; best of several interleaved repeats. ``rerevoke`` is the rare
case of the chosen scheme: every key already there, so a second round trip per chunk.

    .venv/bin/python scripts/never_shorter_cost.py [--chunks 50] [--repeats 7]
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Callable

import hiredis

from token_blacklist._core.commands import pack_command
from token_blacklist.server import RedisServer

CHUNK = 1000
TTL = 3600
SCRIPT = (
    "local r = redis.call('SET', KEYS[1], '1', 'EX', ARGV[1], 'NX') "
    "if r then return 1 end return redis.call('EXPIRE', KEYS[1], ARGV[1], 'GT')"
)


def exchange(sock: socket.socket, payload: bytes, count: int) -> list[object]:
    sock.sendall(payload)
    reader = hiredis.Reader()
    replies: list[object] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is False:
            reader.feed(sock.recv(1 << 16))
        else:
            replies.append(reply)
    return replies


def pack(commands: list[tuple[object, ...]]) -> bytes:
    return b"".join(pack_command(*c) for c in commands)


def scheme_plain(keys: list[str], sha: bytes) -> list[list[tuple[object, ...]]]:
    return [[("SET", k, b"1", "EX", TTL) for k in keys]]


def scheme_both(keys: list[str], sha: bytes) -> list[list[tuple[object, ...]]]:
    return [
        [c for k in keys for c in (("SET", k, b"1", "EX", TTL, "NX"), ("EXPIRE", k, TTL, "GT"))]
    ]


def scheme_script(keys: list[str], sha: bytes) -> list[list[tuple[object, ...]]]:
    return [[("EVALSHA", sha, 1, k, TTL) for k in keys]]


def scheme_nx_then(keys: list[str], sha: bytes) -> list[list[tuple[object, ...]]]:
    return [[("SET", k, b"1", "EX", TTL, "NX") for k in keys]]


def run(
    sock: socket.socket,
    scheme: Callable[..., list[list[tuple[object, ...]]]],
    sha: bytes,
    chunks: int,
    tag: str,
) -> float:
    started = time.perf_counter()
    for n in range(chunks):
        keys = [f"token_blacklist:{tag}{n:04d}{i:06d}" for i in range(CHUNK)]
        for commands in scheme(keys, sha):
            replies = exchange(sock, pack(commands), len(commands))
            if scheme is scheme_nx_then:  # the chosen scheme: a second trip for nil replies
                nil = [k for k, r in zip(keys, replies, strict=True) if r is None]
                if nil:
                    again = [
                        c
                        for k in nil
                        for c in (("EXPIRE", k, TTL, "GT"), ("SET", k, b"1", "EX", TTL, "NX"))
                    ]
                    exchange(sock, pack(again), len(again))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    schemes = {
        "plain SET EX": (scheme_plain, False),
        "SET NX + EXPIRE GT always": (scheme_both, False),
        "EVALSHA script": (scheme_script, False),
        "SET NX; EXPIRE GT+SET NX for nil (chosen)": (scheme_nx_then, False),
        "chosen, every key re-revoked": (scheme_nx_then, True),
    }
    best = dict.fromkeys(schemes, float("inf"))
    with RedisServer({"save": '""', "appendonly": "no"}) as server:
        sock = socket.create_connection((server.host, server.port))
        sha = exchange(sock, pack_command("SCRIPT", "LOAD", SCRIPT), 1)[0]
        assert isinstance(sha, bytes)
        for repeat in range(args.repeats):
            for name, (scheme, rerevoke) in schemes.items():
                exchange(sock, pack_command("FLUSHALL"), 1)
                if rerevoke:  # every key of the run already revoked
                    run(sock, scheme_plain, sha, args.chunks, f"r{repeat}")
                tag = f"r{repeat}" if rerevoke else f"{name[:3]}{repeat}"
                elapsed = run(sock, scheme, sha, args.chunks, tag)
                best[name] = min(best[name], elapsed)
        sock.close()
    base = best["plain SET EX"]
    total = args.chunks * CHUNK
    print(f"{total} keys per run, chunks of {CHUNK}, best of {args.repeats}")
    print(f"{'scheme':44} {'k keys/s':>9} {'throughput vs plain':>20}")
    for name, elapsed in best.items():
        print(f"{name:44} {total / elapsed / 1000:9.0f} {base / elapsed:19.2f}x")


if __name__ == "__main__":
    main()
