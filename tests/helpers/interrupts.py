"""Exceptions raised into library calls at random moments, the way production raises
them: a signal handler (a request timeout, Ctrl-C) for sync calls, a cancellation (an
``asyncio.timeout``, a client that went away) for asyncio ones. After each interrupted
call, follow-up calls on the same client must report exactly what Redis holds: a
connection handed back to the pool with a request in flight would make the next call
read the interrupted call's replies as its own (issue 13, item 1)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from assertions import random_hashes

TTL = 600


class Interrupt(Exception):
    """An ``Exception`` subclass, as a web server's timeout raises."""


class HardInterrupt(BaseException):
    """A ``BaseException`` subclass, like ``KeyboardInterrupt``."""


@dataclass
class Tally:
    rounds: int = 0
    interrupted: int = 0
    completed: int = 0
    follow_ups: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def note(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


@contextlib.contextmanager
def raising_timer(delay: float, exception: type[BaseException]) -> Iterator[None]:
    """One SIGALRM after ``delay`` seconds whose handler raises ``exception``."""

    def handler(signum: int, frame: Any) -> None:
        raise exception

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, delay)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def allowed_by_default(token_hash: str) -> bool:
    return True


@dataclass
class Expectation:
    """What a correct follow-up call reports for ``hashes``: ``allowed`` says which ones
    the user may write (an ACL key pattern), so a reply read by the wrong call shows."""

    allowed: Callable[[str], bool] = allowed_by_default
    held: Callable[[list[str]], set[str]] | None = None
    """The hashes among these that Redis holds (an admin's EXISTS)."""
    readable: str = ""
    """A first character of hashes the user may check (the others are refused NOPERM)."""


def check_blacklist_result(result: Any, hashes: list[str], expect: Expectation) -> None:
    allowed = {h for h in hashes if expect.allowed(h)}
    assert result.requested == len(hashes), result
    assert result.succeeded == len(allowed), result
    assert set(result.failures) == set(hashes) - allowed, result
    if expect.held is not None:
        assert expect.held(hashes) == allowed, "the result does not match Redis"


def sync_rounds(
    blacklist: Any, expect: Expectation, rounds: int, *, seed: int, size: int = 300
) -> Tally:
    """``rounds`` calls interrupted at a random moment (alternately by an ``Exception`` and
    a ``BaseException``), each followed by checked calls on the same client."""
    rng = random.Random(seed)
    tally = Tally()
    methods = ["blacklist_tokens", "blacklisted", "is_blacklisted", "revoke_all"]
    for n in range(rounds):
        tally.rounds += 1
        exception = Interrupt if n % 2 else HardInterrupt
        method = methods[n % len(methods)]
        batch = random_hashes(size, first="" if method == "blacklist_tokens" else expect.readable)
        delay = rng.uniform(0.00005, 0.004)
        try:
            with raising_timer(delay, exception):
                _call(blacklist, method, batch)
                # the timer may still fire here: a signal between two calls is fine too
                time.sleep(0.005)
        except (Interrupt, HardInterrupt):
            tally.interrupted += 1
        else:
            tally.completed += 1
        tally.note(method)
        follow_up(blacklist, expect)
        tally.follow_ups += 1
    return tally


def _call(blacklist: Any, method: str, batch: list[str]) -> Any:
    if method == "blacklist_tokens":
        return blacklist.blacklist_tokens(batch, TTL)
    if method == "blacklisted":
        return blacklist.blacklisted(batch)
    if method == "is_blacklisted":
        return blacklist.is_blacklisted(batch[0], subject="someone", issued_at=time.time())
    return blacklist.revoke_all(f"user-{batch[0][:12]}", TTL)


def follow_up(blacklist: Any, expect: Expectation) -> None:
    """Uninterrupted calls whose every answer is known in advance."""
    fresh = random_hashes(40)
    result = blacklist.blacklist_tokens(fresh, TTL)
    check_blacklist_result(result, fresh, expect)
    revoked = {h for h in fresh if expect.allowed(h)}
    never = random_hashes(10, first=expect.readable)  # readable by the user, never revoked
    assert blacklist.blacklisted([*revoked, *never]) == revoked
    for token_hash in list(revoked)[:3]:
        assert blacklist.is_blacklisted(token_hash), "a revoked hash checked as not blacklisted"
    assert not blacklist.is_blacklisted(never[0]), "a hash never revoked checked blacklisted"
    subject = f"user-{fresh[0][:12]}"
    outcome = blacklist.revoke_all(subject, TTL)
    assert outcome.ok, outcome
    assert blacklist.is_blacklisted(never[1], subject=subject, issued_at=time.time() - 60)
    assert not blacklist.is_blacklisted(never[2], subject="nobody", issued_at=time.time())


async def async_rounds(
    blacklist: Any, expect: Expectation, rounds: int, *, seed: int, size: int = 300
) -> Tally:
    """The asyncio side: each call cancelled at a random moment, then checked calls."""
    rng = random.Random(seed)
    tally = Tally()
    methods = ["blacklist_tokens", "blacklisted", "is_blacklisted", "revoke_all"]
    for n in range(rounds):
        tally.rounds += 1
        method = methods[n % len(methods)]
        batch = random_hashes(size, first="" if method == "blacklist_tokens" else expect.readable)
        task = asyncio.ensure_future(_async_call(blacklist, method, batch))
        await asyncio.sleep(rng.uniform(0, 0.004))
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            tally.interrupted += 1
        else:
            tally.completed += 1
        tally.note(method)
        await async_follow_up(blacklist, expect)
        tally.follow_ups += 1
    return tally


async def _async_call(blacklist: Any, method: str, batch: list[str]) -> Any:
    if method == "blacklist_tokens":
        return await blacklist.blacklist_tokens(batch, TTL)
    if method == "blacklisted":
        return await blacklist.blacklisted(batch)
    if method == "is_blacklisted":
        return await blacklist.is_blacklisted(batch[0], subject="someone", issued_at=time.time())
    return await blacklist.revoke_all(f"user-{batch[0][:12]}", TTL)


async def async_follow_up(blacklist: Any, expect: Expectation) -> None:
    fresh = random_hashes(40)
    result = await blacklist.blacklist_tokens(fresh, TTL)
    check_blacklist_result(result, fresh, expect)
    revoked = {h for h in fresh if expect.allowed(h)}
    never = random_hashes(10, first=expect.readable)  # readable by the user, never revoked
    assert await blacklist.blacklisted([*revoked, *never]) == revoked
    for token_hash in list(revoked)[:3]:
        assert await blacklist.is_blacklisted(token_hash), (
            "a revoked hash checked as not blacklisted"
        )
    assert not await blacklist.is_blacklisted(never[0]), "a hash never revoked checked blacklisted"
    subject = f"user-{fresh[0][:12]}"
    outcome = await blacklist.revoke_all(subject, TTL)
    assert outcome.ok, outcome
    assert await blacklist.is_blacklisted(never[1], subject=subject, issued_at=time.time() - 60)
    assert not await blacklist.is_blacklisted(never[2], subject="nobody", issued_at=time.time())
