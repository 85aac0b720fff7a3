"""``redis-benchmark -c 1 -P 1000 -t set``: what one connection can carry, measured by
Redis' own C client against the same server (the wire limit the bulk case is held to)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from urllib.parse import urlsplit

__all__ = ["available", "set_ex_rate", "set_rate"]

# The module's own command shape: an 80-byte key (prefix + 64 hex characters; redis-benchmark
# puts 12 digits where __rand_int__ is), value "1", a TTL.
_SET_EX = ["SET", "token_blacklist_bench:__rand_int__" + "0" * 52, "1", "EX", "300"]


def available(url: str) -> bool:
    """redis-benchmark on PATH, a plain TCP URL, and no password (it would sit in argv)."""
    parts = urlsplit(url)
    return (
        shutil.which("redis-benchmark") is not None
        and parts.scheme == "redis"
        and not parts.password
    )


def set_rate(url: str, requests: int) -> float:
    """SET per second over one connection with pipelines of 1000 (CSV ``rps`` column):
    ``-t set`` writes one key again and again, Redis' best case and the issue's reference."""
    return _rate(url, ["-t", "set", "-n", str(requests)])


def set_ex_rate(url: str, requests: int) -> float:
    """The same, with the module's command shape over ``requests`` random keys: what Redis
    itself can do for ``SET key 1 EX ttl`` on distinct keys."""
    return _rate(url, ["-n", str(requests), "-r", str(requests), *_SET_EX])


def _rate(url: str, test: list[str]) -> float:
    parts = urlsplit(url)
    command = [
        "redis-benchmark",
        *("-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)),
        *("-c", "1", "-P", "1000", "--csv"),
    ]
    command += test
    completed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    rows = list(csv.DictReader(completed.stdout.splitlines()))
    return float(rows[-1]["rps"])
