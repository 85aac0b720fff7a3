"""The measured cases: a logout call, a check (plain and subject-aware), and bulk
revocation, each next to the plain redis-py code a user would otherwise write (the
baseline of its ratio)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.asyncio

from .. import AsyncTokenBlacklist, TokenBlacklist
from .setups import FULL, UNCONFIGURED, client_kwargs
from .timing import Case

__all__ = [
    "PREFIX",
    "TTL",
    "bulk_cases",
    "check_cases",
    "logout_cases",
    "logout_pairs",
    "make_hashes",
    "subject_check_cases",
]

PREFIX = "token_blacklist_bench"
TTL = 300
CHUNK = 1000
SETUPS = (FULL, UNCONFIGURED)


def make_hashes(count: int, salt: int = 0) -> list[str]:
    """Distinct valid 64-hex-character hashes, cheap to make by the million."""
    return [format((i + salt * 10**9) * 0x9E3779B97F4A7C15 + salt, "064x") for i in range(count)]


def logout_pairs(calls: int, salt: int = 1) -> list[tuple[str, str]]:
    """The 2 hashes of each logout call."""
    hashes = make_hashes(2 * calls, salt=salt)
    return list(zip(hashes[0::2], hashes[1::2], strict=True))


class FreshPairs:
    """New hashes for every round of one logout case (``renew`` is its untimed setup).

    A logout revokes a token that was valid: its hash is new to Redis. Re-sending the
    same hashes every round would measure re-revocations instead (``SET NX`` finds the
    key, and the module lengthens its expiry in a second round trip, see ``_core``)."""

    _salts = itertools.count(1000)

    def __init__(self, calls: int) -> None:
        self.calls = calls
        self.pairs = logout_pairs(calls, next(self._salts))

    def renew(self) -> None:
        self.pairs = logout_pairs(self.calls, next(self._salts))


def _module(client: Any, setup: str) -> TokenBlacklist:
    return TokenBlacklist(client, PREFIX, **client_kwargs(setup))


def _amodule(client: Any, setup: str) -> AsyncTokenBlacklist:
    return AsyncTokenBlacklist(client, PREFIX, **client_kwargs(setup))


def _pipeline_sets(client: redis.Redis, hashes: Sequence[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for token_hash in hashes:
        pipe.set(f"{PREFIX}:{token_hash}", 1, ex=TTL)
    return sum(1 for reply in pipe.execute(raise_on_error=False) if reply is True)


async def _apipeline_sets(client: redis.asyncio.Redis, hashes: Sequence[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for token_hash in hashes:
        pipe.set(f"{PREFIX}:{token_hash}", 1, ex=TTL)
    return sum(1 for reply in await pipe.execute(raise_on_error=False) if reply is True)


def _in_loop(runner: asyncio.Runner, make: Callable[[], Any]) -> Callable[[], object]:
    return lambda: runner.run(make())


def logout_cases(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, calls: int
) -> list[Case]:
    """2 new hashes per call (:class:`FreshPairs`): the baseline pipeline, then the module
    with each telemetry setup."""
    fresh = FreshPairs(calls)
    afresh = FreshPairs(calls)

    def baseline() -> None:
        for pair in fresh.pairs:
            _pipeline_sets(client, pair)

    async def abaseline() -> None:
        for pair in afresh.pairs:
            await _apipeline_sets(aclient, pair)

    cases = [Case("logout.sync.baseline", baseline, calls, fresh.renew)]
    cases.append(Case("logout.async.baseline", _in_loop(runner, abaseline), calls, afresh.renew))
    for setup in SETUPS:
        module = _module(client, setup)
        amodule = runner.run(_acreate(aclient, setup))
        mine, amine = FreshPairs(calls), FreshPairs(calls)

        def sync_call(module: TokenBlacklist = module, mine: FreshPairs = mine) -> None:
            for pair in mine.pairs:
                module.blacklist_tokens(pair, TTL)

        async def async_call(
            amodule: AsyncTokenBlacklist = amodule, amine: FreshPairs = amine
        ) -> None:
            for pair in amine.pairs:
                await amodule.blacklist_tokens(pair, TTL)

        cases.append(Case(f"logout.sync.{setup}", sync_call, calls, mine.renew))
        cases.append(
            Case(f"logout.async.{setup}", _in_loop(runner, async_call), calls, amine.renew)
        )
    return cases


async def _acreate(aclient: redis.asyncio.Redis, setup: str) -> AsyncTokenBlacklist:
    return _amodule(aclient, setup)  # built inside the loop that will use it


def _write_half(client: redis.Redis, keys: Sequence[str]) -> None:
    """Every other key is blacklisted: checks answer both ways."""
    pipe = client.pipeline(transaction=False)
    for key in keys[::2]:
        pipe.set(key, 1, ex=TTL)
    pipe.execute()


def check_cases(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, calls: int
) -> list[Case]:
    """One hash per call: a plain ``EXISTS`` vs ``is_blacklisted`` with each setup."""
    hashes = make_hashes(calls, salt=1)
    keys = [f"{PREFIX}:{h}" for h in hashes]
    _write_half(client, keys)

    def baseline() -> None:
        for key in keys:
            client.exists(key)

    async def abaseline() -> None:
        for key in keys:
            await aclient.exists(key)

    cases = [
        Case("check.sync.baseline", baseline, calls),
        Case("check.async.baseline", _in_loop(runner, abaseline), calls),
    ]
    for setup in SETUPS:
        module = _module(client, setup)
        amodule = runner.run(_acreate(aclient, setup))

        def sync_call(module: TokenBlacklist = module) -> None:
            for token_hash in hashes:
                module.is_blacklisted(token_hash)

        async def async_call(amodule: AsyncTokenBlacklist = amodule) -> None:
            for token_hash in hashes:
                await amodule.is_blacklisted(token_hash)

        cases.append(Case(f"check.sync.{setup}", sync_call, calls))
        cases.append(Case(f"check.async.{setup}", _in_loop(runner, async_call), calls))
    return cases


SUBJECT = "user-1"
ISSUED_AT = 1.9e9  # after the bench's own revoke_all (none): the token answers on its key


def subject_check_cases(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, calls: int
) -> list[Case]:
    """``is_blacklisted(h, subject=, issued_at=)`` (full telemetry) vs a plain pipeline of
    ``EXISTS key`` + ``ZSCORE subject_key nbf`` (what it sends)."""
    hashes = make_hashes(calls, salt=1)  # every other one blacklisted by check_cases
    keys = [f"{PREFIX}:{h}" for h in hashes]
    subject_key = f"{PREFIX}:nbf:{hashlib.sha256(SUBJECT.encode()).hexdigest()}"  # the module's

    def baseline() -> None:
        for key in keys:
            pipe = client.pipeline(transaction=False)
            pipe.exists(key)
            pipe.zscore(subject_key, "nbf")
            pipe.execute(raise_on_error=False)

    async def abaseline() -> None:
        for key in keys:
            pipe = aclient.pipeline(transaction=False)
            pipe.exists(key)
            pipe.zscore(subject_key, "nbf")
            await pipe.execute(raise_on_error=False)

    module = _module(client, FULL)
    amodule = runner.run(_acreate(aclient, FULL))

    def sync_call() -> None:
        for token_hash in hashes:
            module.is_blacklisted(token_hash, subject=SUBJECT, issued_at=ISSUED_AT)

    async def async_call() -> None:
        for token_hash in hashes:
            await amodule.is_blacklisted(token_hash, subject=SUBJECT, issued_at=ISSUED_AT)

    return [
        Case("subject_check.sync.baseline", baseline, calls),
        Case("subject_check.async.baseline", _in_loop(runner, abaseline), calls),
        Case("subject_check.sync.full", sync_call, calls),
        Case("subject_check.async.full", _in_loop(runner, async_call), calls),
    ]


def bulk_cases(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, size: int
) -> list[Case]:
    """``size`` hashes: the module (full telemetry) vs redis-py pipelines of 1000."""
    hashes = make_hashes(size, salt=2)
    module = _module(client, FULL)
    amodule = runner.run(_acreate(aclient, FULL))

    def pipeline() -> None:
        for start in range(0, size, CHUNK):
            _pipeline_sets(client, hashes[start : start + CHUNK])

    async def apipeline() -> None:
        for start in range(0, size, CHUNK):
            await _apipeline_sets(aclient, hashes[start : start + CHUNK])

    def sync_module() -> None:
        module.blacklist_tokens(hashes, TTL).raise_for_failures()

    async def async_module() -> None:
        (await amodule.blacklist_tokens(hashes, TTL)).raise_for_failures()

    def forget() -> None:
        """Untimed, before each run: the hashes are new to Redis, as in a mass revocation
        (the module would otherwise measure re-revocations, which take a second round
        trip to lengthen each expiry)."""
        for start in range(0, size, CHUNK):
            client.unlink(*(f"{PREFIX}:{h}" for h in hashes[start : start + CHUNK]))

    return [
        Case(f"bulk{size}.sync.pipeline", pipeline, size, forget),
        Case(f"bulk{size}.sync.module", sync_module, size, forget),
        Case(f"bulk{size}.async.pipeline", _in_loop(runner, apipeline), size, forget),
        Case(f"bulk{size}.async.module", _in_loop(runner, async_module), size, forget),
    ]
