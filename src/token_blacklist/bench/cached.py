"""Cached checks (``check_cache=``): a hit answered from memory vs a plain ``EXISTS``.

Every hash is checked once before the rounds (the warm-up round) and the link is fresh,
so every timed call is a hit (half "revoked", half not); the baseline is a plain ``EXISTS``
of the same keys.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis
import redis.asyncio

from .. import AsyncTokenBlacklist, CheckCache, TokenBlacklist
from .cases import PREFIX, SETUPS, make_hashes
from .setups import UNCONFIGURED, client_kwargs, json_logger
from .timing import Case

__all__ = ["cached_check_cases"]


def cached_check_cases(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, calls: int,
    closers: list[Any],
) -> list[Case]:  # fmt: skip
    # Hashes of their own: the logout cases rewrite theirs every round, and each write
    # invalidates (as it must). Half are revoked once, here: hits of both answers.
    hashes = make_hashes(calls, salt=7)
    keys = [f"{PREFIX}:{h}" for h in hashes]
    pipe = client.pipeline(transaction=False)
    for key in keys[::2]:
        pipe.set(key, 1, ex=3600)
    pipe.execute()
    cache = CheckCache(max_entries=max(calls, 1000), max_staleness=1.0)

    def baseline() -> None:
        for key in keys:
            client.exists(key)

    async def abaseline() -> None:
        for key in keys:
            await aclient.exists(key)

    cases = [
        Case("cached_check.sync.baseline", baseline, calls),
        Case("cached_check.async.baseline", lambda: runner.run(abaseline()), calls),
    ]
    for setup in SETUPS:
        kwargs = client_kwargs(setup)
        if setup == UNCONFIGURED:
            # The link's own warnings (a late heartbeat on a loaded machine) must not reach
            # stdout, where --json prints the report; the checks log nothing on a hit.
            kwargs["logger"] = json_logger()
        module = TokenBlacklist(client, PREFIX, **kwargs, check_cache=cache)
        closers.append(module.close)

        async def create(kwargs: dict[str, Any] = kwargs) -> AsyncTokenBlacklist:
            built = AsyncTokenBlacklist(aclient, PREFIX, **kwargs, check_cache=cache)
            await built.is_blacklisted(hashes[0])  # starts the link's task in this loop
            return built

        amodule = runner.run(create())
        closers.append(lambda amodule=amodule: runner.run(amodule.aclose()))

        def sync_call(module: TokenBlacklist = module) -> None:
            for token_hash in hashes:
                module.is_blacklisted(token_hash)

        async def async_call(amodule: AsyncTokenBlacklist = amodule) -> None:
            for token_hash in hashes:
                await amodule.is_blacklisted(token_hash)

        cases.append(Case(f"cached_check.sync.{setup}", sync_call, calls))

        def run_async(call: Any = async_call) -> None:
            runner.run(call())

        cases.append(Case(f"cached_check.async.{setup}", run_async, calls))
    time.sleep(0.2)  # the sync links are up; the async ones run while their loop does
    return cases
