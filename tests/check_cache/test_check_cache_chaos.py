"""The check cache's chaos soak: revocations, cached checks and faults at random, then the
promise checked for every check (the reliability soak's kind, ``tests/test_chaos.py``).

Writers (an uncached ``TokenBlacklist``, which also calls ``revoke_all``, and a plain
redis-py client) revoke random hashes straight at Redis and note when each revocation was
acknowledged. Cached checkers (2 threads with a ``TokenBlacklist``, 2 asyncio tasks with an
``AsyncTokenBlacklist``, each with ``check_cache=`` and ``on_check_error="raise"``) check
hashes not yet revoked, hashes revoked, hashes never revoked and subjects (``revoke_all``),
and note when each check started and what it answered. The checkers reach Redis through a
TCP hop of their own (their calls and their links): the writers' revocations go on while
the checkers' side is partitioned. That partition is the fault the heartbeat rule is for:
a link cut or a server killed, paused or restarted is seen at once (the link's socket
closes) or stops the writers too, while a partitioned link stays silent and its
invalidations come late. With the cache made to serve regardless of the heartbeat, this
test reports stale answers (4-19 a 25 s run, up to 0.41 s against a 0.1 s bound).

Faults, one at a time: ``CLIENT KILL TYPE normal``, ``CLIENT KILL`` of one cache link (by
its ``CLIENT SETNAME``), ``CLIENT PAUSE`` (ALL and WRITE), SIGSTOP/SIGCONT, kill -9 and a
restart on the same port (AOF, ``appendfsync always``: an acknowledged revocation
survives), maxmemory OOM, and on the checkers' hop a partition (every byte held both ways
for a while, then delivered: the link's invalidations arrive late) and a cut (every
connection reset). Never FLUSHALL: it un-revokes, by design.

Invariants, for every check:

- a check that started more than ``max_staleness`` after a revocation was acknowledged
  never answers "not revoked" (a check Redis could not answer raises instead);
- a hash or subject never revoked is never reported revoked;
- the cache was both used and bypassed (hits and bypasses in the injected registries), and
  every link serves again once the faults stop;
- every acknowledged revocation is held by Redis at the end;
- no hash, Redis key, password or Redis error text in any log event or exception.

``TOKEN_BLACKLIST_CHAOS_SECONDS`` sets the duration, as for the reliability soak (default
here 25 s, about 30 s in all). The summary (checks, hits, bypasses, faults, revocations,
the largest lag of a "not revoked" after an acknowledgement) is printed (``pytest -s``) and
kept in ``record_property``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
import redis.asyncio
from opentelemetry.trace import NoOpTracerProvider
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import PREFIX, random_hashes
from test_chaos import APP, CLIENT, OPTIONS, Injector, Worker, assert_no_secret
from token_blacklist import (
    AsyncTokenBlacklist,
    BlacklistUnavailableError,
    CheckCache,
    TokenBlacklist,
)
from token_blacklist._cache_target import LINK_NAME
from token_blacklist.server import RedisServer

SECONDS = float(os.environ.get("TOKEN_BLACKLIST_CHAOS_SECONDS", "25"))
BOUND = 0.1
CACHE = CheckCache(max_entries=10_000, max_staleness=BOUND)
# A check Redis does not answer gives up soon: the checker's next checks meet the cache.
CHECKER_CLIENT = {**CLIENT, "socket_timeout": 0.15, "retry": Retry(NoBackoff(), 0)}
CHECKER_OPTIONS = {**OPTIONS, "retries": 1, "on_check_error": "raise"}
ISSUED_AT = time.time() - 3600  # every subject check's token predates every revoke_all
TOKEN, NEVER, SUBJECT = 0, 1, 2
Observation = tuple[int, str, float, bool | None]  # kind, hash or subject, start, answer


class Hop:
    """A TCP hop for the cached checkers: :meth:`freeze` holds every byte both ways for a
    while and then delivers it (a partition that heals); :meth:`cut` resets every
    connection. New connections are accepted meanwhile (and frozen like the others)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.host, self.port = "127.0.0.1", int(self._listener.getsockname()[1])
        self._thawed = threading.Event()
        self._thawed.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=1.0)
                upstream.settimeout(None)
            except OSError:  # the server is down (restarting): as if refused
                downstream.close()
                continue
            for sock in (downstream, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open |= {downstream, upstream}
            for pair in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=pair, daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._thawed.wait()
                sink.sendall(data)
        except OSError:
            pass
        self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with self._lock:
                self._open.discard(sock)

    def freeze(self, seconds: float) -> None:
        self._thawed.clear()
        try:
            time.sleep(seconds)
        finally:
            self._thawed.set()

    def cut(self) -> None:
        with self._lock:
            sockets = list(self._open)
        self._drop(*sockets)

    def close(self) -> None:
        self._closed = True
        self._thawed.set()
        self._listener.close()
        self.cut()


class CacheInjector(Injector):
    """The reliability soak's injector (its pauses, SIGSTOP and OOM), with the faults that
    matter to the cache: its links killed, the server restarted, the checkers' hop frozen
    or cut."""

    def __init__(self, server: RedisServer, hop: Hop, seed: int, until: float) -> None:
        super().__init__(server, seed)
        self.admin.close()
        self.admin = server.client(socket_timeout=5, retry=Retry(NoBackoff(), 3))
        self.hop = hop
        self.until = until
        self.errors: list[str] = []

    def run(self) -> None:
        faults: list[Callable[[float], None]] = [
            self.kill_normal, self.kill_link, self.kill_link, self.pause_all, self.pause_write,
            self.sigstop, self.restart, self.partition, self.partition, self.cut, self.oom,
        ]  # fmt: skip
        try:
            while not self.stop.is_set() and time.monotonic() < self.until:
                self.stop.wait(self.rng.uniform(0.1, 0.6))  # calm: the cache serves again
                fault = self.rng.choice(faults)
                fault(self.rng.uniform(0.05, 0.6))
                self.counts[fault.__name__] = self.counts.get(fault.__name__, 0) + 1
        except Exception as error:  # the summary says, the test fails
            self.errors.append(repr(error))

    def kill_normal(self, _: float) -> None:
        self.admin.client_kill_filter(_type="normal", skipme=True)

    def kill_link(self, _: float) -> None:
        name = LINK_NAME.replace(":", "-")
        links = [c for c in self.admin.client_list() if c.get("name") == name]
        if links:
            self.admin.client_kill_filter(_id=self.rng.choice(links)["id"])

    def restart(self, seconds: float) -> None:
        self.server.kill()  # SIGKILL, as a crash
        time.sleep(seconds / 2)
        self.server.start()  # same port, same AOF

    def partition(self, seconds: float) -> None:
        self.hop.freeze(seconds + 0.2)  # longer than the bound

    def cut(self, _: float) -> None:
        self.hop.cut()


class Ledger:
    """Hashes (or subjects) to revoke: pending ones (checked before they are revoked, so the
    caches hold their "not revoked"), then revoked ones with their first acknowledgement."""

    def __init__(self, new: Callable[[], str], size: int) -> None:
        self.new = new
        self.size = size
        self.lock = threading.Lock()
        self.pending: list[str] = [new() for _ in range(size)]
        self.revoked: list[str] = []
        self.attempted: set[str] = set()
        self.acknowledged: dict[str, float] = {}
        self.failed_attempts = 0

    def take(self, rng: random.Random, count: int) -> list[str]:
        with self.lock:
            while len(self.pending) < self.size:
                self.pending.append(self.new())
            taken = rng.sample(self.pending, min(count, len(self.pending)))
            self.attempted.update(taken)
            return taken

    def confirm(self, done: list[str], at: float, failed: int = 0) -> None:
        with self.lock:
            self.failed_attempts += failed
            for key in done:
                if key not in self.acknowledged:
                    self.acknowledged[key] = at
                    self.pending.remove(key)
                    self.revoked.append(key)

    def pick(self, rng: random.Random) -> str:
        """A pending key or one of the last 40 revoked (a small set: mostly cached)."""
        with self.lock:
            revoked = self.revoked
            if revoked and rng.random() < 0.5:
                return revoked[rng.randrange(max(0, len(revoked) - 40), len(revoked))]
            return rng.choice(self.pending)


class Checker:
    """One cached client's checks: (kind, key, start, answer) each; None: unavailable."""

    def __init__(self, name: str) -> None:
        self.worker = Worker(name)  # its capture and errors, for assert_no_secret
        self.seen: list[Observation] = []
        self.unexpected: list[str] = []
        self.recovered = False

    def kwargs(self) -> dict[str, Any]:
        # Spans are not kept (a million checks); the registry and the logger are.
        capture = self.worker.capture
        return {"registry": capture.registry, "logger": capture.logger,
                "tracer_provider": NoOpTracerProvider(), **CHECKER_OPTIONS}  # fmt: skip

    def plan(self, rng: random.Random, tokens: Ledger, subjects: Ledger, never: list[str]) -> Any:
        roll = rng.random()
        if roll < 0.55:
            kind = NEVER if rng.random() < 0.2 else TOKEN
            key = rng.choice(never) if kind == NEVER else tokens.pick(rng)
            return "one", [(kind, key)]
        if roll < 0.75:
            picks = [(TOKEN, tokens.pick(rng)) for _ in range(3)] + [(NEVER, rng.choice(never))]
            return "many", picks
        return "subject", [(SUBJECT, subjects.pick(rng)), (NEVER, rng.choice(never))]

    def note(self, what: str, picks: list[tuple[int, str]], started: float, found: Any) -> None:
        if isinstance(found, BaseException):
            if not isinstance(found, BlacklistUnavailableError):
                self.unexpected.append(repr(found))
            self.worker.errors.append(f"{found!r} {found}")
            found = None
        if what == "one":
            self.seen.append((picks[0][0], picks[0][1], started, found))
        elif what == "many":
            for kind, key in picks:
                self.seen.append((kind, key, started, None if found is None else key in found))
        else:
            self.seen.append((SUBJECT, picks[0][1], started, found))

    def hits(self) -> float:
        return self.worker.capture.sample("token_blacklist_check_cache_total", result="hit")


def sync_checker(checker: Checker, hop: Hop, until: float, seed: int, world: Any) -> None:
    rng = random.Random(seed)
    client = redis.Redis(host=hop.host, port=hop.port, **CHECKER_CLIENT)
    blacklist = TokenBlacklist(client, PREFIX, check_cache=CACHE, **checker.kwargs())
    try:
        while time.monotonic() < until:
            what, picks = checker.plan(rng, *world)
            started = time.monotonic()
            try:
                if what == "one":
                    found: Any = blacklist.is_blacklisted(picks[0][1])
                elif what == "many":
                    found = blacklist.blacklisted([key for _, key in picks])
                else:
                    found = blacklist.is_blacklisted(
                        picks[1][1], subject=picks[0][1], issued_at=ISSUED_AT
                    )
            except Exception as error:
                found = error
            checker.note(what, picks, started, found)
            time.sleep(0.0005)
        checker.recovered = wait_hit_sync(blacklist, checker, world[2][0])
    finally:
        blacklist.close()
        client.close()


def wait_hit_sync(blacklist: TokenBlacklist, checker: Checker, token_hash: str) -> bool:
    """Once the faults stop, the link serves again (within the reconnection backoff)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        hits = checker.hits()
        with contextlib.suppress(BlacklistUnavailableError):
            blacklist.is_blacklisted(token_hash)
        if checker.hits() > hits:
            return True
        time.sleep(0.01)
    return False


async def async_checker(checker: Checker, hop: Hop, until: float, seed: int, world: Any) -> None:
    rng = random.Random(seed)
    client = redis.asyncio.Redis(host=hop.host, port=hop.port, **CHECKER_CLIENT)
    blacklist = AsyncTokenBlacklist(client, PREFIX, check_cache=CACHE, **checker.kwargs())
    try:
        while time.monotonic() < until:
            what, picks = checker.plan(rng, *world)
            started = time.monotonic()
            try:
                if what == "one":
                    found: Any = await blacklist.is_blacklisted(picks[0][1])
                elif what == "many":
                    found = await blacklist.blacklisted([key for _, key in picks])
                else:
                    found = await blacklist.is_blacklisted(
                        picks[1][1], subject=picks[0][1], issued_at=ISSUED_AT
                    )
            except Exception as error:
                found = error
            checker.note(what, picks, started, found)
            await asyncio.sleep(0.0005)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not checker.recovered:
            hits = checker.hits()
            with contextlib.suppress(BlacklistUnavailableError):
                await blacklist.is_blacklisted(world[2][0])
            checker.recovered = checker.hits() > hits
            await asyncio.sleep(0.01)
    finally:
        await blacklist.aclose()
        await client.aclose()


def run_async(checkers: list[Checker], hop: Hop, until: float, world: Any) -> None:
    async def main() -> None:
        await asyncio.gather(
            *(async_checker(c, hop, until, 200 + i, world) for i, c in enumerate(checkers))
        )

    asyncio.run(main())


def library_writer(
    writer: Worker, server: RedisServer, until: float, seed: int, world: Any
) -> None:
    """Revokes 1-3 hashes a call, and now and then every token of a subject."""
    tokens, subjects, _ = world
    rng = random.Random(seed)
    client = server.client(**CLIENT)
    blacklist = TokenBlacklist(client, PREFIX, **OPTIONS, **writer.capture.kwargs())
    try:
        while time.monotonic() < until:
            if rng.random() < 0.04:
                subject = subjects.take(rng, 1)
                outcome = blacklist.revoke_all(subject[0], 3600)
                at = time.monotonic()
                subjects.confirm(subject if outcome.ok else [], at, failed=int(not outcome.ok))
            else:
                hashes = tokens.take(rng, rng.choice([1, 1, 2, 3]))
                result = blacklist.blacklist_tokens(hashes, 3600)
                at = time.monotonic()
                writer.record(result, hashes)
                done = [h for h in hashes if h not in result.failures]
                tokens.confirm(done, at, failed=len(hashes) - len(done))
            time.sleep(rng.uniform(0.01, 0.04))
    finally:
        client.close()


def plain_writer(server: RedisServer, until: float, seed: int, world: Any) -> None:
    """``SET key 1 EX 3600`` with redis-py itself: acknowledged when it returns."""
    tokens = world[0]
    rng = random.Random(seed)
    client = server.client(**CLIENT)
    try:
        while time.monotonic() < until:
            token_hash = tokens.take(rng, 1)
            try:
                client.set(f"{PREFIX}:{token_hash[0]}", 1, ex=3600)
            except redis.RedisError:
                tokens.confirm([], 0.0, failed=1)
            else:
                tokens.confirm(token_hash, time.monotonic())
            time.sleep(rng.uniform(0.01, 0.04))
    finally:
        client.close()


def judge(checkers: list[Checker], tokens: Ledger, subjects: Ledger) -> dict[str, Any]:
    """Every check against the acknowledgements."""
    stale: list[tuple[str, float]] = []
    wrongly_revoked: list[str] = []
    lag, unavailable, seen_then_revoked = 0.0, 0, set()
    for checker in checkers:
        for kind, key, started, answer in checker.seen:
            if answer is None:
                unavailable += 1
                continue
            if kind == NEVER:
                if answer:
                    wrongly_revoked.append(f"{checker.worker.name}: a never-revoked hash")
                continue
            ledger = tokens if kind == TOKEN else subjects
            if answer and key not in ledger.attempted:
                wrongly_revoked.append(f"{checker.worker.name}: a key never revoked")
            acknowledged = ledger.acknowledged.get(key)
            if answer or acknowledged is None:
                continue
            if started <= acknowledged:
                seen_then_revoked.add(key)
                continue
            lag = max(lag, started - acknowledged)
            if started - acknowledged > BOUND:
                stale.append((checker.worker.name, round(started - acknowledged, 4)))
    return {
        "stale": stale,
        "wrongly_revoked": wrongly_revoked,
        "max_lag": round(lag, 4),
        "unavailable": unavailable,
        "seen_not_revoked_then_revoked": len(seen_then_revoked),
    }


@pytest.mark.chaos
def test_check_cache_chaos_soak(
    make_server: Any, record_property: Callable[[str, object], None]
) -> None:
    server = make_server({
        "user": ["default on nopass ~* &* +@all", APP],
        "maxmemory-policy": "noeviction",
        "appendonly": "yes",
        "appendfsync": "always",  # kill -9 keeps every acknowledged revocation
    })  # fmt: skip
    hop = Hop((server.host, server.port))
    tokens = Ledger(lambda: random_hashes(1)[0], 40)
    subjects = Ledger(lambda: f"chaos-{secrets.token_hex(6)}", 10)
    never = random_hashes(40)
    world = (tokens, subjects, never)
    until = time.monotonic() + SECONDS
    sync_checkers = [Checker(f"sync-{i}") for i in range(2)]
    async_checkers = [Checker(f"async-{i}") for i in range(2)]
    checkers = sync_checkers + async_checkers
    writer = Worker("writer")
    seed = int(os.environ.get("TOKEN_BLACKLIST_CHAOS_SEED", time.time()))
    injector = CacheInjector(server, hop, seed=seed, until=until)
    threads = [
        threading.Thread(target=sync_checker, args=(c, hop, until, i, world))
        for i, c in enumerate(sync_checkers)
    ]
    threads += [
        threading.Thread(target=run_async, args=(async_checkers, hop, until, world)),
        threading.Thread(target=library_writer, args=(writer, server, until, 7, world)),
        threading.Thread(target=plain_writer, args=(server, until, 8, world)),
    ]
    try:
        for thread in threads:
            thread.start()
        # In this thread: a restarted server dies with the thread that started it (the
        # harness's PR_SET_PDEATHSIG), and this one lasts as long as the test.
        injector.run()
        for thread in threads:
            thread.join(timeout=SECONDS + 120)
        assert not any(t.is_alive() for t in threads), "a worker hung"
    finally:
        injector.stop.set()
        hop.close()

    verdict = judge(checkers, tokens, subjects)
    registries = [c.worker.capture for c in checkers]

    def total(result: str, name: str = "token_blacklist_check_cache_total") -> int:
        labels = {"result": result} if result else {}
        return int(sum(r.sample(name, **labels) for r in registries))

    summary = {
        "seconds": SECONDS,
        "seed": seed,
        "checks": sum(len(c.seen) for c in checkers),
        "unavailable": verdict["unavailable"],
        "hits": total("hit"),
        "misses": total("miss"),
        "bypasses": total("bypass"),
        "link_losses": total("", "token_blacklist_check_cache_link_losses_total"),
        "faults": sum(injector.counts.values()),
        "by_fault": injector.counts,
        "revocations": len(tokens.acknowledged),
        "subject_revocations": len(subjects.acknowledged),
        "failed_attempts": tokens.failed_attempts + subjects.failed_attempts,
        "seen_not_revoked_then_revoked": verdict["seen_not_revoked_then_revoked"],
        "stale": len(verdict["stale"]),
        "max_lag": verdict["max_lag"],
    }
    print("check cache chaos soak:", json.dumps(summary))
    record_property("check_cache_chaos", summary)

    assert not injector.errors, injector.errors
    assert not writer.violations, writer.violations[:5]
    for checker in checkers:
        assert not checker.unexpected, (checker.worker.name, checker.unexpected[:5])
    assert not verdict["stale"], f"stale 'not revoked' answers: {verdict['stale'][:10]}"
    assert not verdict["wrongly_revoked"], verdict["wrongly_revoked"][:10]
    assert all(c.recovered for c in checkers), "a link never served again after the faults"
    # The run proved something only if the cache was used and bypassed, and revocations
    # landed on keys the checkers had seen not revoked.
    assert summary["hits"] > 0 and summary["bypasses"] > 0, summary
    assert summary["faults"] > 0 and summary["revocations"] > 0, summary
    assert summary["seen_not_revoked_then_revoked"] > 0, summary
    admin = server.client()
    try:
        pipe = admin.pipeline(transaction=False)
        for token_hash in tokens.acknowledged:
            pipe.exists(f"{PREFIX}:{token_hash}")
        assert all(pipe.execute()), "an acknowledged revocation is not in Redis"
    finally:
        admin.close()
    everything = set(tokens.pending) | set(tokens.revoked) | set(never)
    for worker in [writer, *(c.worker for c in checkers)]:
        assert_no_secret(worker, everything)  # logs, spans, exceptions; the password too
    # ... and the logs it read were there: the links' downs and ups.
    assert any(e.get("state") == "down" for c in checkers for e in c.worker.capture.logs)
