"""One bench run: every case against the same Redis, interleaved and repeated."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import redis
import redis.asyncio

from ..server import RedisServer
from . import memory, wire_limit
from .cases import bulk_cases, check_cases, logout_cases
from .report import environment, evaluate_targets
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
    bulk_rounds: int = 3
    memory_count: int = 1_000_000
    memory_batch_size: int = 10_000
    """0 skips the memory case."""

    @classmethod
    def tiny(cls) -> BenchSettings:
        """Seconds, not minutes: proves the bench runs (CI smoke), measures nothing."""
        return cls(calls=20, rounds=1, bulk_sizes=(2000,), bulk_rounds=1, memory_count=5000)


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
        "units_per_second": round(measured.units_per_second, 1),
        "round_seconds": [round(s, 6) for s in measured.seconds],
    }


def _rate_recorder(
    measure: Callable[[str, int], float], url: str, size: int, rates: list[float]
) -> Callable[[], None]:
    return lambda: rates.append(measure(url, size))


def _bulk(
    client: redis.Redis, aclient: redis.asyncio.Redis, runner: asyncio.Runner, url: str,
    settings: BenchSettings,
) -> tuple[dict[str, Measured], dict[str, float]]:  # fmt: skip
    """The bulk cases of each size, with redis-benchmark as more cases of the round."""
    measured: dict[str, Measured] = {}
    limits: dict[str, float] = {}
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
                limits[f"bulk{size}.{name}"] = round(statistics.median(values), 1)
        measured.update(found)
    return measured, limits


def run_bench(settings: BenchSettings, url: str | None = None) -> dict[str, Any]:
    """Measure every case; the returned report is JSON-ready."""
    with _redis_url(url) as target, asyncio.Runner() as runner:
        client = redis.Redis.from_url(target)
        aclient = redis.asyncio.Redis.from_url(target)
        try:
            small = logout_cases(client, aclient, runner, settings.calls)
            small += check_cases(client, aclient, runner, settings.calls)
            measured = run_rounds(small, settings.rounds)
            bulk, limits = _bulk(client, aclient, runner, target, settings)
            measured.update(bulk)
            server_info = client.info("server")
        finally:
            client.close()
            runner.run(aclient.aclose())
            shutdown()
        mem = None
        if settings.memory_count:
            mem = memory.measure_in_subprocess(
                target, settings.memory_count, settings.memory_batch_size
            )
    report: dict[str, Any] = {
        "environment": environment(str(server_info.get("redis_version", "?"))),
        "settings": asdict(settings),
        "redis": "private redis-server on loopback" if url is None else "--redis-url",
        "cases": {name: _case_report(m) for name, m in sorted(measured.items())},
        "wire_limit_set_per_second": limits,
        "memory": mem,
    }
    report["targets"] = evaluate_targets(report)
    return report
