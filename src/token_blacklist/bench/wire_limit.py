"""``redis-benchmark -c 1 -P 1000 -t set``: what one connection can carry, measured by
Redis' own C client against the same server (the wire limit the bulk case is held to)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from urllib.parse import urlsplit

__all__ = ["available", "set_rate"]


def available(url: str) -> bool:
    return shutil.which("redis-benchmark") is not None and urlsplit(url).scheme == "redis"


def set_rate(url: str, requests: int) -> float:
    """SET per second over one connection with pipelines of 1000 (CSV ``rps`` column)."""
    parts = urlsplit(url)
    command = [
        "redis-benchmark",
        *("-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)),
        *("-c", "1", "-P", "1000", "-t", "set", "-n", str(requests), "--csv"),
    ]
    if parts.password:
        command += ["-a", parts.password, "--user", parts.username or "default"]
    completed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    rows = list(csv.DictReader(completed.stdout.splitlines()))
    return float(rows[-1]["rps"])
