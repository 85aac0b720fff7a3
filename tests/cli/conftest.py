"""Drive the ``token-blacklist`` command as a user would: a subprocess, real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("token-blacklist")


def command() -> list[str]:
    """The installed console script; ``python -m token_blacklist.cli`` if it is missing."""
    if SCRIPT.exists():
        return [str(SCRIPT)]
    return [sys.executable, "-m", "token_blacklist.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's Redis/OTel settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_", "OTEL_", "TOKEN_BLACKLIST_"))
    }
    env.update(extra)
    return env


@dataclass
class Ran:
    code: int
    out: str
    err: str


Run = Callable[..., Ran]


@pytest.fixture
def cli() -> Run:
    def run(
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Ran:
        done = subprocess.run(
            [*command(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=cli_env(**(env or {})),
            timeout=timeout,
            check=False,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    return run


def lines_of(hashes: Sequence[str], ttls: Sequence[int | None] | None = None) -> str:
    """Input text: one hash a line, with a TTL column where ``ttls`` has one."""
    ttls = ttls or [None] * len(hashes)
    return "".join(
        f"{h}\n" if t is None else f"{h} {t}\n" for h, t in zip(hashes, ttls, strict=True)
    )
