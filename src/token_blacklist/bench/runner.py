"""One bench run: every case against the same Redis, interleaved and repeated."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
import redis.asyncio

from ..server import RedisServer
from . import cli_throughput, memory, peer, wire_limit
from .cached import cached_check_cases
from .cases import bulk_cases, check_cases, logout_cases, subject_check_cases
from .composed import composed_cases
from .floor import floor_cases
from .report import environment, evaluate_targets, floor_rows
from .setups import shutdown
from .timing import Case, Measured, run_rounds

__all__ = ["BenchSettings", "run_bench"]


@dataclass(frozen=True, slots=True)
class BenchSettings:
    calls: int = 200
    """Calls per round in the logout and check cases. Short rounds, many of them: on a
    shared machine the noise comes in bursts, and rounds of a few milliseconds spread each
    burst over all cases instead of loading one of them."""
    rounds: int = 51
    bulk_sizes: tuple[int, ...] = (100_000, 1_000_000)
    bulk_rounds: int = 5
    memory_count: int = 1_000_000
    """0 skips the memory case."""
    memory_batch_size: int = 10_000
    cli_count: int = 1_000_000
    """Hashes of the ``revoke`` file in the CLI throughput case; 0 skips it."""
    cli_rounds: int = 5
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Extra keyword arguments of every client (TLS CA file, credentials, timeouts)."""

    @classmethod
    def tiny(cls, **changes: Any) -> BenchSettings:
        """Seconds, not minutes: proves the bench runs (CI smoke), measures nothing."""
        tiny = {
            "calls": 20, "rounds": 1, "bulk_sizes": (2000,), "bulk_rounds": 1,
            "memory_count": 5000, "cli_count": 2000, "cli_rounds": 1,
        }  # fmt: skip
        return cls(**{**tiny, **changes})


@contextlib.contextmanager
def _redis_url(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with RedisServer() as server:
        yield server.url


def _case_report(measured: Measured) -> dict[str, Any]:
    return {
        "units": measured.units,
        "median_us_per_unit": round(measured.per_unit_us, 3),
        "best_us_per_unit": round(measured.best_per_unit_us, 3),
        "units_per_second": round(measured.units_per_second, 1),
        "best_units_per_second": round(measured.best_units_per_second, 1),
        "round_seconds": [round(s, 6) for s in measured.seconds],
    }


def _rate_recorder(
    measure: Callable[[str, int], float], url: str, size: int, rates: list[float]
) -> Callable[[], None]:
    return lambda: rates.append(measure(url, size))


def _bulk(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, url: str,
    settings: BenchSettings,
) -> tuple[dict[str, Measured], dict[str, dict[str, float]]]:  # fmt: skip
    """The bulk cases of each size, with redis-benchmark as more cases of the round."""
    measured: dict[str, Measured] = {}
    limits: dict[str, dict[str, float]] = {}
    references = {"redis-benchmark": wire_limit.set_rate, "set-ex": wire_limit.set_ex_rate}
    for size in settings.bulk_sizes:
        cases = bulk_cases(client, aclient, runner, size)
        rates: dict[str, list[float]] = {name: [] for name in references}
        if wire_limit.available(url):
            for name, measure in references.items():
                cases.append(Case(name, _rate_recorder(measure, url, size, rates[name]), 1))
        found = run_rounds(cases, settings.bulk_rounds, warmup=False)
        for name, values in rates.items():
            found.pop(name, None)  # its wall time includes a process start
            if values:
                limits[f"bulk{size}.{name}"] = {
                    "median": round(statistics.median(values), 1),
                    "best": round(max(values), 1),
                }
        measured.update(found)
    return measured, limits


def _cli_env(kwargs: Mapping[str, Any]) -> dict[str, str]:
    """The environment of the ``revoke`` child: this one, plus the CA file the bench was
    given (as ``$REDIS_TLS_CA_FILE``, which the command honours)."""
    env = dict(os.environ)
    if kwargs.get("ssl_ca_certs"):
        env["REDIS_TLS_CA_FILE"] = str(kwargs["ssl_ca_certs"])
    return env


def _small_cases(  # noqa: PLR0917 - private, called once
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, url: str,
    settings: BenchSettings, closers: list[Any],
) -> list[Case]:  # fmt: skip
    kwargs = dict(settings.client_kwargs)
    calls = settings.calls
    cases = logout_cases(client, aclient, runner, calls)
    cases += check_cases(client, aclient, runner, calls)
    cases += subject_check_cases(client, aclient, runner, calls)
    cases += floor_cases(client, url, kwargs, calls, closers)
    cases += composed_cases(client, aclient, runner, calls, closers)
    if peer.available():
        cases += peer.peer_cases(url, kwargs, runner, calls, closers)
    return cases


def _cached(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner,
    settings: BenchSettings,
) -> dict[str, Measured]:  # fmt: skip
    """The cached checks in rounds of their own, their links closed afterwards: a link
    tracks every key under the bench prefix (CLIENT TRACKING BCAST), so while one is open
    each write of the other cases costs Redis a push per link and the link's thread
    (in this process) the reading of it. Interleaved with the logout and bulk cases, they
    doubled a plain pipeline's time and cut redis-benchmark's SET rate to a third."""
    closers: list[Any] = []
    try:
        cases = cached_check_cases(client, aclient, runner, settings.calls, closers)
        return run_rounds(cases, settings.rounds)
    finally:
        _close(closers)


def _close(closers: list[Any]) -> None:
    for closer in reversed(closers):
        with contextlib.suppress(Exception):
            closer() if callable(closer) else closer.close()
    closers.clear()


def run_bench(settings: BenchSettings, url: str | None = None) -> dict[str, Any]:
    """Measure every case; the returned report is JSON-ready.

    Raises ``redis.RedisError`` (or ``OSError``) when the Redis at ``url`` is not usable;
    nothing is measured then.
    """
    kwargs = dict(settings.client_kwargs)
    with _redis_url(url) as target, asyncio.Runner() as runner:
        client = redis.Redis.from_url(target, **kwargs)
        aclient = redis.asyncio.Redis.from_url(target, **kwargs)
        closers: list[Any] = []
        cli: dict[str, Measured] = {}
        try:
            server_info = client.info("server")  # unusable Redis: raise before measuring
            measured = run_rounds(
                _small_cases(client, aclient, runner, target, settings, closers), settings.rounds
            )
            measured.update(_cached(client, aclient, runner, settings))
            bulk, limits = _bulk(client, aclient, runner, target, settings)
            measured.update(bulk)
            if settings.cli_count:
                with tempfile.TemporaryDirectory(prefix="token-blacklist-bench-") as folder:
                    cases = cli_throughput.cli_cases(
                        client, target, _cli_env(kwargs), settings.cli_count, folder, closers
                    )
                    cli = run_rounds(cases, settings.cli_rounds, warmup=False)
                    _close(closers)
            measured.update(cli)
        finally:
            _close(closers)
            client.close()
            runner.run(aclient.aclose())
            shutdown()
        mem = None
        if settings.memory_count:
            mem = memory.measure_in_subprocess(
                target, settings.memory_count, settings.memory_batch_size, kwargs
            )
    report: dict[str, Any] = {
        "environment": environment(str(server_info.get("redis_version", "?"))),
        "settings": _settings_report(settings),
        "redis": "private redis-server on loopback" if url is None else "--redis-url",
        "cases": {name: _case_report(m) for name, m in sorted(measured.items())},
        "cpu_seconds": {
            name: [round(v, 3) for v in values]
            for name, values in cli_throughput.cpu_seconds.items()
        },
        "wire_limit_set_per_second": limits,
        "memory": mem,
    }
    report["floor"] = floor_rows(report["cases"])
    report["targets"] = evaluate_targets(report)
    return report


def _settings_report(settings: BenchSettings) -> dict[str, Any]:
    found = asdict(settings)
    # Which options were given, never their values (a password, a file path).
    found["client_kwargs"] = sorted(settings.client_kwargs)
    as_json: dict[str, Any] = json.loads(json.dumps(found))  # tuples -> lists, as in --json
    return as_json
