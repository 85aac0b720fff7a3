"""A bounded soak (issue 13, "a chaos test of our own"): sync and asyncio writers and
checkers against a real Redis while an injector applies faults at random, then the
invariants checked for every call.

Faults, the production way: ``CLIENT KILL`` of the application's connections, ``CLIENT
PAUSE`` (WRITE and ALL), SIGSTOP/SIGCONT of the server, maxmemory OOM, and ACL changes
(rights and key patterns taken away and given back). Invariants:

- every call: ``succeeded + failed == requested``;
- every hash reported succeeded is held by Redis at the end (nothing here evicts, deletes
  or shortens: noeviction, long TTLs, re-revocations never shorten);
- every check of a hash confirmed before the check began answers blacklisted (or raises
  ``BlacklistUnavailableError``: an unanswered check is never a "no");
- each client's metrics equal the sum of its results;
- no hash, Redis key, password or Redis error text in any log event, span or exception.

``TOKEN_BLACKLIST_CHAOS_SECONDS`` sets the duration (default 45 s: within CI's budget);
``TOKEN_BLACKLIST_CHAOS_SECONDS=3600`` runs it for an hour. The summary (calls, tokens,
faults) is printed (``pytest -s``) and kept in the test's ``record_property``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from assertions import PREFIX, held, random_hashes
from token_blacklist import AsyncTokenBlacklist, BlacklistUnavailableError, TokenBlacklist
from token_blacklist.server import RedisServer
from token_blacklist.testing import TelemetryCapture

SECONDS = float(os.environ.get("TOKEN_BLACKLIST_CHAOS_SECONDS", "45"))
USER, PASSWORD = "app", "chaos-app-pw-5f1c"
RIGHTS = "+@connection +ping +set +expire +exists +eval +zadd +zscore"
APP = f"{USER} on >{PASSWORD} resetchannels ~{PREFIX}:* {RIGHTS}"
CLIENT = {
    "username": USER,
    "password": PASSWORD,
    "socket_timeout": 0.3,
    "socket_connect_timeout": 0.3,
    "retry": Retry(NoBackoff(), 1),
}
OPTIONS = {"retries": 2, "retry_backoff": 0.01}
HASH_RE = re.compile(r"[0-9a-f]{64}")


@dataclass
class Worker:
    """One client's calls: what it was told, so that its telemetry can be compared."""

    name: str
    capture: TelemetryCapture = field(default_factory=TelemetryCapture)
    calls: int = 0
    tokens: int = 0
    succeeded: int = 0
    failed: int = 0
    checks: int = 0
    checked_keys: int = 0
    unavailable_checks: int = 0
    confirmed: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, result: Any, hashes: list[str]) -> None:
        self.calls += 1
        self.tokens += result.requested
        self.succeeded += result.succeeded
        self.failed += result.failed
        if result.succeeded + result.failed != result.requested:
            self.violations.append(f"{self.name}: succeeded + failed != requested")
        if result.requested != len(set(hashes)):
            self.violations.append(f"{self.name}: requested != distinct input")
        self.confirmed.extend(h for h in hashes if h not in result.failures)

    def checked(self, answer: bool | None, what: str, keys: int) -> None:
        self.checks += 1
        self.checked_keys += keys
        if answer is None:
            self.unavailable_checks += 1
        elif not answer:
            self.violations.append(
                f"{self.name}: a confirmed hash checked as not blacklisted ({what})"
            )


class Injector:
    """Applies one random fault at a time, for a random short while, until stopped."""

    def __init__(self, server: RedisServer, seed: int) -> None:
        self.server = server
        self.rng = random.Random(seed)
        self.admin = server.client(socket_timeout=5)
        self.counts: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        faults: list[Callable[[float], None]] = [
            self.client_kill, self.pause_write, self.pause_all, self.sigstop, self.oom,
            self.acl_rights, self.acl_pattern,
        ]  # fmt: skip
        while not self.stop.is_set():
            fault = self.rng.choice(faults)
            fault(self.rng.uniform(0.05, 0.4))
            self.counts[fault.__name__] = self.counts.get(fault.__name__, 0) + 1
            self.stop.wait(self.rng.uniform(0.02, 0.3))

    def client_kill(self, _: float) -> None:
        self.admin.execute_command("CLIENT", "KILL", "USER", USER)

    def pause_write(self, seconds: float) -> None:
        self.admin.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "WRITE")
        time.sleep(seconds)

    def pause_all(self, seconds: float) -> None:
        self.admin.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
        time.sleep(seconds)

    def sigstop(self, seconds: float) -> None:
        self.server.pause()
        try:
            time.sleep(seconds)
        finally:
            self.server.resume()

    def oom(self, seconds: float) -> None:
        self.admin.config_set("maxmemory", 1)
        try:
            time.sleep(seconds)
        finally:
            self.admin.config_set("maxmemory", 0)

    def acl_rights(self, seconds: float) -> None:
        taken = self.rng.choice(["-set", "-expire", "-exists", "-eval", "-set -exists"])
        self.admin.execute_command("ACL", "SETUSER", USER, *taken.split())
        try:
            time.sleep(seconds)
        finally:
            self.admin.execute_command("ACL", "SETUSER", USER, *RIGHTS.split())

    def acl_pattern(self, seconds: float) -> None:
        # Half the hashes (first character 0-7) and the not-before keys only, for a while.
        self.admin.execute_command(
            "ACL", "SETUSER", USER, "resetkeys", f"~{PREFIX}:[0-7]*", f"~{PREFIX}:nbf:*"
        )
        try:
            time.sleep(seconds)
        finally:
            self.admin.execute_command("ACL", "SETUSER", USER, "resetkeys", f"~{PREFIX}:*")


def sync_writer(worker: Worker, server: RedisServer, until: float, seed: int) -> None:
    rng = random.Random(seed)
    client = server.client(**CLIENT)
    blacklist = TokenBlacklist(client, PREFIX, **OPTIONS, **worker.capture.kwargs())
    try:
        while time.monotonic() < until:
            hashes = random_hashes(rng.choice([1, 2, 2, 50, 400, 1500]))
            worker.record(blacklist.blacklist_tokens(hashes, 3600), hashes)
            if worker.confirmed and rng.random() < 0.5:
                sample = rng.sample(worker.confirmed, min(20, len(worker.confirmed)))
                try:
                    found = blacklist.blacklisted(sample)
                    worker.checked(found == set(sample), "blacklisted", len(sample))
                except BlacklistUnavailableError as error:
                    worker.checked(None, "", len(sample))
                    worker.errors.append(f"{error!r} {error}")
                try:
                    worker.checked(blacklist.is_blacklisted(sample[0]), "is_blacklisted", 1)
                except BlacklistUnavailableError as error:
                    worker.checked(None, "", 1)
                    worker.errors.append(f"{error!r} {error}")
    finally:
        client.close()


async def async_writer(worker: Worker, server: RedisServer, until: float, seed: int) -> None:
    rng = random.Random(seed)
    client = server.async_client(**CLIENT)
    blacklist = AsyncTokenBlacklist(client, PREFIX, **OPTIONS, **worker.capture.kwargs())
    try:
        while time.monotonic() < until:
            hashes = random_hashes(rng.choice([1, 2, 2, 50, 400, 1500]))
            worker.record(await blacklist.blacklist_tokens(hashes, 3600), hashes)
            if worker.confirmed and rng.random() < 0.5:
                sample = rng.sample(worker.confirmed, min(20, len(worker.confirmed)))
                try:
                    found = await blacklist.blacklisted(sample)
                    worker.checked(found == set(sample), "blacklisted", len(sample))
                except BlacklistUnavailableError as error:
                    worker.checked(None, "", len(sample))
                    worker.errors.append(f"{error!r} {error}")
                try:
                    worker.checked(await blacklist.is_blacklisted(sample[0]), "is_blacklisted", 1)
                except BlacklistUnavailableError as error:
                    worker.checked(None, "", 1)
                    worker.errors.append(f"{error!r} {error}")
    finally:
        await client.aclose()


def run_async(workers: list[Worker], server: RedisServer, until: float) -> None:
    async def main() -> None:
        await asyncio.gather(
            *(async_writer(w, server, until, 100 + i) for i, w in enumerate(workers))
        )

    asyncio.run(main())


def missing_keys(admin: redis.Redis, hashes: list[str]) -> set[str]:
    """The hashes whose key Redis does not hold: one multi-key EXISTS per 1,000 (it counts
    the keys present), the hashes one by one only in a group that falls short."""
    missing: set[str] = set()
    groups = [hashes[i : i + 1000] for i in range(0, len(hashes), 1000)]
    pipe = admin.pipeline(transaction=False)
    for group in groups:
        pipe.exists(*(f"{PREFIX}:{h}" for h in group))
    for group, count in zip(groups, pipe.execute(), strict=True):
        if count != len(group):
            missing |= set(group) - held(admin, group)
    return missing


def assert_telemetry_sums(worker: Worker) -> None:
    sample = worker.capture.sample
    assert sample("token_blacklist_tokens_total", outcome="succeeded") == worker.succeeded
    assert sample("token_blacklist_tokens_total", outcome="failed") == worker.failed
    failures = sum(
        s.value
        for metric in worker.capture.registry.collect()
        if metric.name == "token_blacklist_token_failures"
        for s in metric.samples
        if s.name.endswith("_total")
    )
    assert failures == worker.failed
    checked = sum(
        s.value
        for metric in worker.capture.registry.collect()
        if metric.name == "token_blacklist_checks"
        for s in metric.samples
        if s.name.endswith("_total")
    )
    assert checked == worker.checked_keys, (checked, worker.checked_keys)


def assert_no_secret(worker: Worker, hashes: set[str]) -> None:
    capture = worker.capture
    blobs = [json.dumps(capture.logs, default=str)]
    for span in capture.spans():
        blobs.append(json.dumps([span.name, dict(span.attributes or {}), span.status.description,
                                 [(e.name, dict(e.attributes or {})) for e in span.events]],
                                default=str))  # fmt: skip
    blobs.extend(worker.errors)
    text = "\n".join(blobs)
    assert not set(HASH_RE.findall(text)) & hashes, f"{worker.name}: a hash in telemetry"
    assert f"{PREFIX}:" not in text, f"{worker.name}: a Redis key in telemetry"
    assert PASSWORD not in text
    for words in ("can't write against", "no permissions", "command not allowed"):
        assert words not in text, f"{worker.name}: a Redis error message in telemetry"


@pytest.mark.chaos
def test_chaos_soak(make_server: Any, record_property: Callable[[str, object], None]) -> None:
    server = make_server({"user": ["default on nopass ~* &* +@all", APP],
                          "maxmemory-policy": "noeviction"})  # fmt: skip
    until = time.monotonic() + SECONDS
    sync_workers = [Worker(f"sync-{i}") for i in range(2)]
    async_workers = [Worker(f"async-{i}") for i in range(2)]
    injector = Injector(server, seed=int(time.time()))
    threads = [
        threading.Thread(target=sync_writer, args=(w, server, until, i))
        for i, w in enumerate(sync_workers)
    ]
    threads.append(threading.Thread(target=run_async, args=(async_workers, server, until)))
    chaos = threading.Thread(target=injector.run)
    chaos.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    injector.stop.set()
    chaos.join(timeout=30)
    assert not any(t.is_alive() for t in [*threads, chaos]), "a worker hung"

    admin = server.client()
    workers = sync_workers + async_workers
    for worker in workers:
        assert not worker.violations, worker.violations[:5]
        missing = missing_keys(admin, worker.confirmed)
        assert not missing, f"{worker.name}: {len(missing)} reported-succeeded hashes missing"
        assert_telemetry_sums(worker)
    every_hash = {h for w in workers for h in w.confirmed}
    for worker in workers:
        assert_no_secret(worker, every_hash)
    summary = {
        "seconds": SECONDS,
        "calls": sum(w.calls for w in workers),
        "tokens": sum(w.tokens for w in workers),
        "succeeded": sum(w.succeeded for w in workers),
        "failed": sum(w.failed for w in workers),
        "checks": sum(w.checks for w in workers),
        "unavailable_checks": sum(w.unavailable_checks for w in workers),
        "faults": sum(injector.counts.values()),
        "by_fault": injector.counts,
    }
    print("chaos soak:", json.dumps(summary))
    record_property("chaos", summary)
    # The run must have met both outcomes, or it proved nothing.
    assert summary["succeeded"] > 0 and summary["failed"] > 0, summary
    assert summary["faults"] > 0
    admin.close()
