"""Interleaved, repeated timing: every case runs once per round, so a noisy neighbour
slows all cases of a round alike and the medians stay comparable.

Each case reports its median round and its best (least disturbed) round: on a shared
machine the median of a noisy minute moves by a third, the best round much less."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Case", "Measured", "run_rounds"]


@dataclass(frozen=True, slots=True)
class Case:
    """``run()`` performs ``units`` operations (calls or tokens) once."""

    name: str
    run: Callable[[], object]
    units: int
    setup: Callable[[], object] | None = None
    """Runs before each ``run()``, untimed (fresh hashes for the next round)."""


@dataclass(frozen=True, slots=True)
class Measured:
    name: str
    units: int
    seconds: list[float]
    """Wall time of each round."""

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def per_unit_us(self) -> float:
        return self.median_seconds / self.units * 1e6

    @property
    def units_per_second(self) -> float:
        return self.units / self.median_seconds

    @property
    def best_seconds(self) -> float:
        return min(self.seconds)

    @property
    def best_per_unit_us(self) -> float:
        return self.best_seconds / self.units * 1e6

    @property
    def best_units_per_second(self) -> float:
        return self.units / self.best_seconds


def run_rounds(cases: Sequence[Case], rounds: int, warmup: bool = True) -> dict[str, Measured]:
    """Run every case ``rounds`` times, interleaved (round-robin), after one warm-up pass."""
    if warmup:
        for case in cases:
            if case.setup is not None:
                case.setup()
            case.run()
    times: dict[str, list[float]] = {case.name: [] for case in cases}
    for round_number in range(rounds):
        # Rotate the order so no case always follows the same neighbour.
        shift = round_number % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            if case.setup is not None:
                case.setup()
            started = time.perf_counter()
            case.run()
            times[case.name].append(time.perf_counter() - started)
    return {case.name: Measured(case.name, case.units, times[case.name]) for case in cases}
