"""Peak RSS growth while ``blacklist_stream`` revokes hashes read from a generator.

Runs in a fresh interpreter (``python -m token_blacklist.bench.memory COUNT BATCH`` with the
Redis URL in ``$TOKEN_BLACKLIST_BENCH_URL``) so nothing the other cases allocated inflates
or hides the peak. Linux only: it reads
``VmRSS``/``VmHWM`` from ``/proc/self/status`` and resets the peak through
``/proc/self/clear_refs`` right before the call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from .. import TokenBlacklist
from .cases import PREFIX, TTL

__all__ = ["measure_in_subprocess"]

STATUS = Path("/proc/self/status")
URL_VARIABLE = "TOKEN_BLACKLIST_BENCH_URL"
KWARGS_VARIABLE = "TOKEN_BLACKLIST_BENCH_CLIENT_KWARGS"


def _status_bytes(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in {STATUS}")


def _generate(count: int) -> Iterator[str]:
    for i in range(count):
        yield format(i * 0x9E3779B97F4A7C15 + 3, "064x")


def probe(
    url: str, count: int, batch_size: int, kwargs: dict[str, Any] | None = None
) -> dict[str, Any]:
    client = redis.Redis.from_url(url, **(kwargs or {}))
    blacklist = TokenBlacklist(client, PREFIX)
    blacklist.blacklist_stream(_generate(10), TTL)  # warm every code path first
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_bytes("VmRSS")
    started = time.perf_counter()
    result = blacklist.blacklist_stream(_generate(count), TTL, batch_size=batch_size)
    seconds = time.perf_counter() - started
    peak = _status_bytes("VmHWM")
    client.close()
    return {
        "count": count,
        "batch_size": batch_size,
        "succeeded": result.succeeded,
        "failed": result.failed,
        "seconds": round(seconds, 3),
        "rss_before_bytes": before,
        "peak_rss_growth_bytes": max(0, peak - before),
    }


def measure_in_subprocess(
    url: str, count: int, batch_size: int, kwargs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run :func:`probe` in a child interpreter; its JSON line is the answer."""
    env = {**os.environ, URL_VARIABLE: url}  # not argv: a URL may hold a password
    env[KWARGS_VARIABLE] = json.dumps(kwargs or {})
    completed = subprocess.run(
        [sys.executable, "-m", __name__, str(count), str(batch_size)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env=env,
    )
    found: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return found


if __name__ == "__main__":
    given = json.loads(os.environ.get(KWARGS_VARIABLE) or "{}")
    print(json.dumps(probe(os.environ[URL_VARIABLE], int(sys.argv[1]), int(sys.argv[2]), given)))
