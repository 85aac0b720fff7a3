"""The CLI's own throughput: ``token-blacklist revoke FILE`` next to ``blacklist_stream``.

The same hashes, one a line in a temporary file, revoked by the command in a child process
(what an operator runs during an incident: interpreter start, line reading, validation,
batching, the summary) and by :meth:`TokenBlacklist.blacklist_stream` in this process (the
library alone, hashes already in memory). Each round writes fresh keys under its own
prefix so neither side rewrites the other's. The command gets the URL in ``$REDIS_URL``
(never in argv: it may hold a password), and the TLS and credential variables of this
process.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .. import TokenBlacklist
from .cases import PREFIX, TTL, make_hashes
from .timing import Case

__all__ = ["cli_cases", "cpu_seconds"]

BATCH_SIZE = 10_000  # the command's default --batch-size

cpu_seconds: dict[str, list[float]] = {}
"""CPU seconds (user + system) of each round, by case name."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cli_run(path: Path, url: str, env: dict[str, str], count: int) -> Callable[[], None]:
    rounds = itertools.count()
    cpu = cpu_seconds.setdefault("cli.revoke", [])

    def run() -> None:
        prefix = f"{PREFIX}_cli{next(rounds)}"
        before = _children_cpu()
        completed = subprocess.run(
            [sys.executable, "-m", "token_blacklist.cli", "revoke", "--ttl", str(TTL),
             "--prefix", prefix, "--json", "--progress", "none", str(path)],
            capture_output=True, text=True, timeout=1800, check=False,
            env={**env, "REDIS_URL": url},
        )  # fmt: skip
        cpu.append(_children_cpu() - before)
        summary = json.loads(completed.stdout.strip().splitlines()[-1] or "{}")
        if summary.get("succeeded") != count:
            raise RuntimeError(
                f"token-blacklist revoke exited {completed.returncode} with "
                f"{summary.get('succeeded')} of {count} revoked"
            )

    return run


def _stream_run(client: redis.Redis, hashes: list[str]) -> Callable[[], None]:
    rounds = itertools.count()
    cpu = cpu_seconds.setdefault("cli.blacklist_stream", [])

    def run() -> None:
        blacklist = TokenBlacklist(client, f"{PREFIX}_lib{next(rounds)}")
        before = _self_cpu()
        result = blacklist.blacklist_stream(iter(hashes), TTL, batch_size=BATCH_SIZE)
        cpu.append(_self_cpu() - before)
        result.raise_for_failures()

    return run


def cli_cases(  # noqa: PLR0917 - one call site
    client: redis.Redis, url: str, env: dict[str, str], count: int, folder: str,
    closers: list[Any],
) -> list[Case]:  # fmt: skip
    """``cli.revoke`` and ``cli.blacklist_stream`` of ``count`` hashes each; ``env`` is the
    command's environment (credentials and TLS variables)."""
    hashes = make_hashes(count, salt=4)
    handle, name = tempfile.mkstemp(prefix="bench-hashes-", suffix=".txt", dir=folder)
    path = Path(name)
    with os.fdopen(handle, "w") as out:
        out.write("\n".join(hashes))
        out.write("\n")
    closers.append(lambda: path.unlink(missing_ok=True))
    cpu_seconds.clear()
    return [
        Case("cli.revoke", _cli_run(path, url, env, count), count),
        Case("cli.blacklist_stream", _stream_run(client, hashes), count),
    ]
