"""Sans-IO decision core: which writes to send, what the replies mean, when to re-send.

The shells drive the generators of this module and of :mod:`.subjects` (every one yields
a :class:`Request`: the commands of the next round trip, built by :mod:`.commands`, and a
delay) and send back either one reply per command (``True`` or an exception instance, in
order) or a single exception when the whole round trip failed. Because every decision
lives here, the sync, async and cluster paths cannot drift apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from ..errors import BlacklistUnavailableError
from ..results import UNREACHABLE, BlacklistResult, FailureReason
from .classify import (
    EXISTING,
    RETRIABLE,
    classify_error,
    classify_extend,
    classify_set_nx,
    is_refused,
)
from .commands import Batch, ExtendTokens, SetTokens
from .validation import BlacklistPlan

__all__ = [
    "CheckOutcome",
    "Reply",
    "Request",
    "RetryPolicy",
    "SendChunk",
    "acknowledged",
    "answer_check",
    "blacklist_protocol",
    "interpret_check",
]

Reply = Sequence[object] | BaseException
"""One reply per command of the chunk, or the exception that lost the whole round trip."""


class Request(Protocol):
    """What every protocol generator yields: wait ``delay`` seconds, then send ``commands``."""

    @property
    def commands(self) -> Batch: ...

    @property
    def delay(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries before it reports a token as failed.

    ``retries`` is the number of extra attempts per chunk. For per-command retriable
    replies (READONLY, TRYAGAIN, CLUSTERDOWN, LOADING/BUSY) the module makes them itself.
    For a lost round trip (connection error, timeout) redis-py's own ``Retry`` has already
    re-sent the pipeline ``client_retries`` times inside ``execute()``, so the module only
    adds what is missing: ``max(0, retries - client_retries)``. Total attempts per chunk are
    therefore ``1 + max(retries, client_retries)``, never their product.
    """

    retries: int = 2
    backoff: float = 0.05
    """Seconds before the first re-send; doubles each time."""
    client_retries: int = 0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (0 = the first send)."""
        return 0.0 if attempt == 0 else self.backoff * (2 ** (attempt - 1))

    def allows(self, attempt: int, reason: FailureReason) -> bool:
        """Whether ``attempt`` extra attempts may be made after a failure for ``reason``."""
        budget = self.retries
        if reason in UNREACHABLE:
            budget = max(0, self.retries - self.client_retries)
        return attempt <= budget


@dataclass(frozen=True, slots=True)
class SendChunk:
    """Send ``commands`` for ``hashes`` after ``delay`` s: ``SET ... NX`` for a chunk, or
    :class:`.commands.ExtendTokens` for the hashes of it that were already there."""

    hashes: list[str]
    commands: SetTokens | ExtendTokens
    delay: float


Outcome = FailureReason | None
"""One hash's outcome in one attempt: None when Redis holds it for at least its TTL."""


def _lost(reply: Reply, count: int) -> list[FailureReason] | None:
    """The outcome of every command when the round trip itself gave no usable replies."""
    if isinstance(reply, BaseException):
        return [classify_error(reply)] * count
    if len(reply) != count:  # a transport bug, not a Redis answer: trust nothing
        return [FailureReason.OTHER] * count
    return None


def _extended(reply: Reply, count: int) -> list[Outcome]:
    """The outcome of each of ``count`` keys from an :class:`ExtendTokens` round trip."""
    lost = _lost(reply, 2 * count)
    if lost is not None or isinstance(reply, BaseException):
        return [o for o in (lost or [])[::2]]
    return [classify_extend(e, r) for e, r in zip(reply[::2], reply[1::2], strict=True)]


def _attempt(
    plan: BlacklistPlan, pending: list[str], delay: float, key_prefix: str
) -> Generator[SendChunk, Reply, tuple[list[Outcome] | None, bool, int]]:
    """One attempt at ``pending``: ``SET ... NX``, then, only for the hashes whose key was
    already there, ``EXPIRE ... GT`` + ``SET ... NX`` so that an existing revocation is
    never shortened. Returns each hash's outcome (None: all succeeded), whether a round
    trip was refused outright (nothing listening), and the number of round trips."""
    keys = [key_prefix + h for h in pending]
    reply = yield SendChunk(pending, SetTokens(keys, plan.ttls(pending)), delay)
    if not isinstance(reply, BaseException) and _all_acknowledged(reply, len(pending)):
        return None, False, 1  # the common case, without a step per hash
    refused = isinstance(reply, BaseException) and is_refused(reply)
    lost = _lost(reply, len(pending))
    first: list[Outcome | object]
    if lost is not None or isinstance(reply, BaseException):
        first = list(lost or [])
    else:
        first = [classify_set_nx(r) for r in reply]
    existing = [h for h, o in zip(pending, first, strict=True) if o is EXISTING]
    round_trips = 1
    if existing:
        extend = ExtendTokens([key_prefix + h for h in existing], plan.ttls(existing))
        again = yield SendChunk(existing, extend, 0.0)
        round_trips = 2
        refused = refused or (isinstance(again, BaseException) and is_refused(again))
        extended = iter(_extended(again, len(existing)))
        first = [next(extended) if o is EXISTING else o for o in first]
    return [o if isinstance(o, FailureReason) else None for o in first], refused, round_trips


def _single_server(token_hash: str) -> Hashable:
    return None


def blacklist_protocol(
    plan: BlacklistPlan,
    chunk_size: int,
    policy: RetryPolicy,
    server_of: Callable[[str], Hashable] | None = None,
    *,
    key_prefix: str,
    down: dict[Hashable, FailureReason] | None = None,
) -> Generator[SendChunk, Reply, BlacklistResult]:
    """Send ``plan`` in chunks; classify every reply; re-send what may still succeed.

    A hash counts as succeeded once Redis holds its key for at least its TTL: its
    ``SET ... NX`` was acknowledged, or the key was already there and its expiry was
    lengthened or already longer (see :func:`_attempt`); an expiry is never shortened.
    Once a server's whole share of a chunk has failed for good with one retriable reason
    (lost to connection errors or timeouts, or refused READONLY, LOADING, BUSY, TRYAGAIN,
    CLUSTERDOWN, MASTERDOWN or NOREPLICAS after its retries), or the server refuses
    connections outright, that server is down for this call: its hashes in the remaining
    chunks are reported failed with the same reason without being sent, so the time a call
    can take is bounded by one chunk's retry budget per server, not by the number of
    chunks. ``server_of`` maps a hash to the server that owns it (a Redis Cluster node); by
    default there is one server, so "down" means all of Redis. ``down`` (server -> reason)
    carries that knowledge from one call to the next (``blacklist_stream``'s batches); it
    is updated in place.
    Keys are ``key_prefix + hash``.
    """
    where = server_of or _single_server
    succeeded = 0
    failures: dict[str, FailureReason] = {}
    chunks = 0
    round_trips = 0
    down = {} if down is None else down
    hashes = plan.hashes
    for start in range(0, len(hashes), chunk_size):
        chunk = hashes[start : start + chunk_size]
        chunks += 1
        if down:
            skipped = {h: down[s] for h in chunk if (s := where(h)) in down}
            failures.update(skipped)
            chunk = [h for h in chunk if h not in skipped]
        pending = chunk
        attempt = 0
        while pending:
            outcomes, refused, sent = yield from _attempt(
                plan, pending, policy.delay(attempt), key_prefix
            )
            round_trips += sent
            if outcomes is None:
                succeeded += len(pending)
                break
            retry: dict[str, FailureReason] = {}
            for token_hash, outcome in zip(pending, outcomes, strict=True):
                if outcome is None:
                    succeeded += 1
                elif outcome in RETRIABLE:
                    retry[token_hash] = outcome
                else:
                    failures[token_hash] = outcome
            attempt += 1
            retriable = {
                h: r for h, r in retry.items() if not refused and policy.allows(attempt, r)
            }
            final = {h: r for h, r in retry.items() if h not in retriable}
            failures.update(final)
            if final:  # nothing failed for good: no server can be down
                down.update(_servers_down(pending, final, where))
            pending = list(retriable)
    return BlacklistResult(
        requested=len(hashes),
        succeeded=succeeded,
        failures=MappingProxyType(failures),
        chunks=chunks,
        round_trips=round_trips,
    )


_NO_FAILURES: Mapping[str, FailureReason] = MappingProxyType({})


def acknowledged(plan: BlacklistPlan, reply: Reply) -> BlacklistResult | None:
    """The result of a plan sent whole as the first chunk of :func:`blacklist_protocol`
    (it fits one chunk) when Redis acknowledged every ``SET``; None otherwise, and the
    protocol decides from the same reply (fed to it as the reply of its first request).

    The common case of every logout, without a generator step or a dict per call.
    """
    count = len(plan.hashes)
    if isinstance(reply, BaseException) or not _all_acknowledged(reply, count):
        return None
    return BlacklistResult(count, count, _NO_FAILURES, 1, 1)  # requested, succeeded, ...


def _all_acknowledged(reply: Sequence[object], count: int) -> bool:
    """Every one of ``count`` commands answered ``OK`` (transports turn it into ``True``;
    ``b"OK"`` when a pipeline applied no reply callback)."""
    if len(reply) != count:
        return False
    for r in reply:  # noqa: SIM110 - a loop, not all() over a generator: every logout
        if r is not True and r != b"OK":
            return False
    return True


def _servers_down(
    pending: Sequence[str], final: dict[str, FailureReason], where: Callable[[str], Hashable]
) -> dict[Hashable, FailureReason]:
    """The servers whose every pending hash just failed for good with one retriable reason
    (its retries exhausted: re-sending the rest of the call there would meet the same).

    A server with anything acknowledged or still to be re-sent in this round is not down.
    """
    shares: dict[Hashable, list[str]] = {}
    for token_hash in pending:
        shares.setdefault(where(token_hash), []).append(token_hash)
    down: dict[Hashable, FailureReason] = {}
    for server, share in shares.items():
        reasons = {final.get(h) for h in share}
        reason = reasons.pop()
        if not reasons and reason is not None and reason in RETRIABLE:
            down[server] = reason
    return down


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What a check learned: the blacklisted hashes and the ones it could not answer."""

    blacklisted: frozenset[str]
    errors: dict[str, FailureReason]
    error: BaseException | None
    """The first Redis exception, to chain from."""


_NOT_BLACKLISTED: frozenset[str] = frozenset()


def interpret_check(hashes: Sequence[str], reply: Reply) -> CheckOutcome:
    """Turn ``EXISTS`` replies (one per hash) into a :class:`CheckOutcome`."""
    if type(reply) is list and len(reply) == 1 == len(hashes):  # is_blacklisted: one answer
        value = reply[0]
        if not isinstance(value, BaseException):
            return CheckOutcome(frozenset(hashes) if value else _NOT_BLACKLISTED, {}, None)
    if not isinstance(reply, BaseException) and len(reply) != len(hashes):
        reply = RuntimeError("reply count does not match the commands sent")
    if isinstance(reply, BaseException):
        reason = classify_error(reply)
        return CheckOutcome(frozenset(), dict.fromkeys(hashes, reason), reply)
    blacklisted: set[str] = set()
    errors: dict[str, FailureReason] = {}
    first: BaseException | None = None
    for token_hash, value in zip(hashes, reply, strict=True):
        if isinstance(value, BaseException):
            errors[token_hash] = classify_error(value)
            first = first or value
        elif value:
            blacklisted.add(token_hash)
    return CheckOutcome(frozenset(blacklisted), errors, first)


def answer_check(outcome: CheckOutcome, policy: str) -> set[str]:
    """Apply the ``on_check_error`` policy: the hashes to treat as blacklisted.

    ``"raise"`` raises :class:`BlacklistUnavailableError` chained from the Redis error,
    ``"deny"`` fails closed (unanswered hashes count as blacklisted), ``"allow"`` fails open.
    """
    if outcome.errors:
        if policy == "raise":
            counts = Counter(outcome.errors.values())
            raise BlacklistUnavailableError(counts.most_common(1)[0][0]) from outcome.error
        if policy == "deny":
            return set(outcome.blacklisted).union(outcome.errors)
    return set(outcome.blacklisted)
