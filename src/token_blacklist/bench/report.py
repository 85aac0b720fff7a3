"""The bench report: environment, target ratios, and a plain-text rendering."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

from .floor import floors

__all__ = ["environment", "evaluate_targets", "floor_rows", "render_text"]

MIB = 1024 * 1024


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(redis_version: str) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "redis-py": _version("redis"),
        "hiredis": _version("hiredis"),
        "redis-server": redis_version,
        "opentelemetry-sdk": _version("opentelemetry-sdk"),
        "structlog": _version("structlog"),
        "prometheus-client": _version("prometheus-client"),
        "token-blacklist": _version("token-blacklist"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
    }


BEST = "best_us_per_unit"
MEDIAN = "median_us_per_unit"
BEST_RATE = "best_units_per_second"
MEDIAN_RATE = "units_per_second"


def _target(
    name: str,
    values: tuple[float | None, float | None],
    op: str,
    limit: float,
    stretch: float | None = None,
) -> dict[str, Any]:
    """A target row: judged on the ratio of best rounds, the median ratio next to it."""
    best, median = values
    met = None if best is None else (best <= limit if op == "<=" else best >= limit)
    return {
        "name": name,
        "value": None if best is None else round(best, 3),
        "median_value": None if median is None else round(median, 3),
        "target": f"{op} {limit:g}",
        "stretch": None if stretch is None else f"{op} {stretch:g}",
        "met": met,
    }


def _ratios(cases: dict[str, Any], top: str, bottom: str) -> tuple[float | None, float | None]:
    """Time per unit of ``top`` over ``bottom``: (best rounds, median rounds)."""
    if top not in cases or bottom not in cases:
        return None, None
    return (
        float(cases[top][BEST]) / float(cases[bottom][BEST]),
        float(cases[top][MEDIAN]) / float(cases[bottom][MEDIAN]),
    )


def _rate_ratios(cases: dict[str, Any], top: str, bottom: str) -> tuple[float | None, float | None]:
    """Throughput of ``top`` over ``bottom``: (best rounds, median rounds)."""
    if top not in cases or bottom not in cases:
        return None, None
    return (
        float(cases[top][BEST_RATE]) / float(cases[bottom][BEST_RATE]),
        float(cases[top][MEDIAN_RATE]) / float(cases[bottom][MEDIAN_RATE]),
    )


def _per_call_targets(cases: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    rows = (
        ("logout", "full", "baseline", "plain pipeline", 0.85, 0.70),
        ("logout", "unconfigured", "baseline", "plain pipeline", 0.50, 0.35),
        ("check", "full", "baseline", "EXISTS", 1.10, 1.00),
        ("check", "unconfigured", "baseline", "EXISTS", 0.70, 0.50),
        ("subject_check", "full", "baseline", "pipeline EXISTS + ZSCORE", 0.80, None),
        ("logout", "full", "peer", "instrumented peer", 0.50, None),
        ("cached_check", "full", "baseline", "EXISTS", 0.10, None),
        ("cached_check", "unconfigured", "baseline", "EXISTS", 0.03, None),
    )
    for operation, setup, base, what, limit, stretch in rows:
        for mode in ("sync", "async"):
            module, baseline = f"{operation}.{mode}.{setup}", f"{operation}.{mode}.{base}"
            values = _ratios(cases, module, baseline)
            name = f"{operation.replace('_', ' ')} {mode}, {setup} / {what}"
            row = _target(name, values, "<=", limit, stretch)
            floor = f"composed.{operation}.{mode}.{setup}"
            if floor in cases:
                row.update(_floor_fields(cases, module, baseline, floor, limit))
            found.append(row)
    return found


def _floor_fields(
    cases: dict[str, Any], module: str, baseline: str, floor: str, limit: float
) -> dict[str, Any]:
    """Where the composed floor (:mod:`.composed`) of the same run puts a ``<=`` target:
    the floor's ratio to the baseline, the module's to the floor, and ``floor_verdict``:
    ``met``, ``below the floor`` (the floor itself is over the target: not reachable on
    this machine) or ``above the floor`` (reachable: work)."""
    best, median = _ratios(cases, floor, baseline)
    over_best, over_median = _ratios(cases, module, floor)
    assert best is not None and median is not None
    met = float(cases[module][BEST]) / float(cases[baseline][BEST]) <= limit
    verdict = "met" if met else ("below the floor" if best > limit else "above the floor")
    return {
        "floor_value": round(best, 3),
        "floor_median_value": round(median, 3),
        "module_over_floor": None if over_best is None else round(over_best, 3),
        "module_over_floor_median": None if over_median is None else round(over_median, 3),
        "floor_verdict": verdict,
    }


def _bulk_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    cases = report["cases"]
    limits = report["wire_limit_set_per_second"]
    found: list[dict[str, Any]] = []
    for size in report["settings"]["bulk_sizes"]:
        same = limits.get(f"bulk{size}.set-ex")
        for mode in ("sync", "async"):
            module = cases.get(f"bulk{size}.{mode}.module")
            values: tuple[float | None, float | None] = (None, None)
            if same and module is not None:
                values = (
                    module[BEST_RATE] / same["best"],
                    module[MEDIAN_RATE] / same["median"],
                )
            name = f"bulk {size} {mode}, module / redis-benchmark SET EX distinct keys"
            found.append(_target(name, values, ">=", 0.90, 1.0))
        for mode in ("sync", "async"):
            values = _rate_ratios(cases, f"bulk{size}.{mode}.module", f"bulk{size}.{mode}.pipeline")
            found.append(
                {
                    **_target(f"bulk {size} {mode}, module / redis-py pipeline", values, ">=", 0),
                    "target": "none",
                    "met": None,
                }
            )
    return found


def evaluate_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Ratios from this run only, next to the targets: judged on best rounds (the least
    disturbed of a shared machine), with the ratio of medians alongside."""
    cases = report["cases"]
    found = _per_call_targets(cases)
    found += _bulk_targets(report)
    if "cli.revoke" in cases:
        values = _rate_ratios(cases, "cli.revoke", "cli.blacklist_stream")
        name = f"revoke command / blacklist_stream, {cases['cli.revoke']['units']} hashes"
        found.append(_target(name, values, ">=", 0.90))
    memory = report["memory"]
    if memory:
        growth = memory["peak_rss_growth_bytes"] / MIB
        name = f"peak RSS growth MiB, {memory['count']} hashes"
        found.append(_target(name, (growth, growth), "<=", 64))
    return found


def floor_rows(cases: dict[str, Any]) -> dict[str, Any]:
    """How far the module is from the floor of this machine, in this run."""
    return {"best": floors(cases, BEST), "median": floors(cases, MEDIAN)}


def _floor_lines(report: dict[str, Any]) -> list[str]:
    floor = report.get("floor", {}).get("best")
    if not floor:
        return []
    return [
        "floor of this machine, best rounds (module work comes on top):",
        f"  logout, unconfigured: {floor['logout_unconfigured_us']:.1f} us = "
        f"{floor['logout_unconfigured_per_pipeline']:.2f} x plain pipeline",
        f"  logout, full telemetry: {floor['logout_full_us']:.1f} us = "
        f"{floor['logout_full_per_pipeline']:.2f} x plain pipeline",
        f"  check, full telemetry: {floor['check_full_us']:.1f} us = "
        f"{floor['check_full_per_exists']:.2f} x EXISTS",
        *(
            [
                f"  cached hit, unconfigured: {floor['cached_hit_unconfigured_us']:.2f} us = "
                f"{floor['cached_hit_unconfigured_per_exists']:.3f} x EXISTS",
                f"  cached hit, full telemetry: {floor['cached_hit_full_us']:.1f} us = "
                f"{floor['cached_hit_full_per_exists']:.3f} x EXISTS",
            ]
            if "cached_hit_unconfigured_us" in floor
            else []
        ),
        "",
    ]


def render_text(report: dict[str, Any]) -> str:
    lines = ["environment:"]
    lines += [f"  {key}: {value}" for key, value in report["environment"].items()]
    lines.append(f"redis: {report['redis']}; settings: {report['settings']}")
    lines.append("")
    lines.append(f"{'case':<34} {'best us/unit':>13} {'median us/unit':>15} {'units/s':>14}")
    for name, case in report["cases"].items():
        lines.append(
            f"{name:<34} {case['best_us_per_unit']:>13.3f} {case['median_us_per_unit']:>15.3f}"
            f" {case['units_per_second']:>14,.0f}"
        )
    for name, value in report["wire_limit_set_per_second"].items():
        lines.append(f"{name:<34} {'':>13} {'':>15} {value['median']:>14,.0f}")
    if report["memory"]:
        lines.append(f"memory: {report['memory']}")
    lines.append("")
    lines += _floor_lines(report)
    if max(report["settings"]["bulk_sizes"]) < 1_000_000:
        lines.append(
            "note: the bulk targets are set for 1 000 000 hashes; at the sizes of this run the "
            "bulk and CLI ratios include start-up costs and say little"
        )
    width = max(len(target["name"]) for target in report["targets"])
    lines.append(
        f"{'target':<{width}} {'best':>7} {'median':>7} {'target':>8}  met  {'floor':>6}  verdict"
    )
    for target in report["targets"]:
        value = "n/a" if target["value"] is None else f"{target['value']:.3f}"
        median = "n/a" if target["median_value"] is None else f"{target['median_value']:.3f}"
        met = {True: "yes", False: "NO", None: "n/a"}[target["met"]]
        floor = target.get("floor_value")
        floor_text = "" if floor is None else f"{floor:.3f}"
        lines.append(
            f"{target['name']:<{width}} {value:>7} {median:>7} {target['target']:>8}  {met:<3}"
            f"  {floor_text:>6}  {target.get('floor_verdict', '')}".rstrip()
        )
    lines.append("(met: judged on the ratio of best rounds; the machine may be shared)")
    lines.append(
        "(floor: the composed floor's ratio to the same baseline, best rounds: the least "
        "hand-written code doing the call's work; below the floor = the target is under it)"
    )
    return "\n".join(lines)
