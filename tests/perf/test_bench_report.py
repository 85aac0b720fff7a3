"""The bench's targets are ratios of best rounds, with the ratio of medians next to them."""

from __future__ import annotations

from typing import Any

from token_blacklist.bench.report import evaluate_targets, floor_rows, render_text


def _case(best: float, median: float, units: int = 100) -> dict[str, Any]:
    return {
        "units": units,
        "best_us_per_unit": best,
        "median_us_per_unit": median,
        "best_units_per_second": 1e6 / best,
        "units_per_second": 1e6 / median,
    }


def _report() -> dict[str, Any]:
    cases = {
        "logout.sync.baseline": _case(100, 200),
        "logout.sync.full": _case(80, 120),  # best 0.80 (met), median 0.60
        "logout.sync.peer": _case(200, 200),
        "check.sync.baseline": _case(50, 50),
        "floor.conn-rt": _case(30, 40),
        "floor.pool": _case(10, 10),
        "floor.sdk-span": _case(20, 20),
        "floor.metrics": _case(4, 4),
        "floor.log-filtered": _case(1, 1),
        "floor.cache-hit": _case(2, 3),
        "cached_check.sync.baseline": _case(40, 50),
        "bulk1000.sync.module": _case(1, 2, 1000),  # 1 M/s best, 0.5 M/s median
        "cli.revoke": _case(10, 10, 1000),
        "cli.blacklist_stream": _case(5, 5, 1000),
    }
    return {
        "cases": cases,
        "settings": {"bulk_sizes": [1000]},
        "wire_limit_set_per_second": {"bulk1000.set-ex": {"best": 1e6, "median": 1e6}},
        "memory": None,
        "environment": {},
        "redis": "x",
    }


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {target["name"]: target for target in evaluate_targets(report)}


def test_targets_are_judged_on_best_rounds_with_medians_alongside() -> None:
    targets = _by_name(_report())
    logout = targets["logout sync, full / plain pipeline"]
    assert (logout["value"], logout["median_value"], logout["met"]) == (0.8, 0.6, True)
    peer = targets["logout sync, full / instrumented peer"]
    assert (peer["value"], peer["median_value"], peer["met"]) == (0.4, 0.6, True)
    assert targets["logout async, full / plain pipeline"]["met"] is None  # not measured
    bulk = targets["bulk 1000 sync, module / redis-benchmark SET EX distinct keys"]
    assert (bulk["value"], bulk["median_value"], bulk["met"]) == (1.0, 0.5, True)
    cli = targets["revoke command / blacklist_stream, 1000 hashes"]
    assert (cli["value"], cli["met"]) == (0.5, False)


def test_floor_rows_and_text_report() -> None:
    report = _report()
    report["floor"] = floor_rows(report["cases"])
    best = report["floor"]["best"]
    assert best["logout_unconfigured_us"] == 40  # conn-rt + pool
    assert best["logout_full_us"] == 65  # + span + metrics + filtered log
    assert best["logout_full_per_pipeline"] == 0.65
    assert best["cached_hit_unconfigured_per_exists"] == 0.05  # 2 / 40
    assert best["cached_hit_full_per_exists"] == 0.55  # (2 + span 20) / 40
    report["targets"] = evaluate_targets(report)
    text = render_text(report)
    assert "0.65 x plain pipeline" in text
    assert "cached hit, unconfigured: 2.00 us = 0.050 x EXISTS" in text
    assert "issue" not in text  # the report speaks to its reader, not to a tracker


def test_composed_floor_says_which_targets_are_below_it() -> None:
    report = _report()
    report["cases"].update(
        {
            "check.sync.full": _case(60, 60),  # 1.20 of EXISTS: not met
            "composed.check.sync.full": _case(57.5, 60),  # the floor: 1.15 > 1.10
            "check.async.baseline": _case(50, 50),
            "check.async.full": _case(60, 60),  # 1.20: not met
            "composed.check.async.full": _case(50, 50),  # floor 1.00: reachable
            "composed.logout.sync.full": _case(70, 100),  # floor 0.70, module 0.80: met
        }
    )
    targets = _by_name(report)
    below = targets["check sync, full / EXISTS"]
    assert (below["met"], below["floor_verdict"], below["floor_value"]) == (
        False, "below the floor", 1.15,
    )  # fmt: skip
    assert below["module_over_floor"] == round(60 / 57.5, 3)
    work = targets["check async, full / EXISTS"]
    assert (work["met"], work["floor_verdict"], work["floor_value"]) == (
        False, "above the floor", 1.0,
    )  # fmt: skip
    met = targets["logout sync, full / plain pipeline"]
    assert (met["floor_verdict"], met["floor_value"], met["floor_median_value"]) == (
        "met", 0.7, 0.5,
    )  # fmt: skip
    peer = targets["logout sync, full / instrumented peer"]  # the same floor, over the peer
    assert peer["floor_value"] == 0.35
    assert "floor_verdict" not in targets["check sync, unconfigured / EXISTS"]  # no floor case
    report["floor"] = floor_rows(report["cases"])
    report["targets"] = list(targets.values())
    text = render_text(report)
    assert "1.150  below the floor" in text
    assert "1.000  above the floor" in text
