"""The bench report: environment, target ratios, and a plain-text rendering."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

__all__ = ["environment", "evaluate_targets", "render_text"]

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


def _target(name: str, value: float | None, op: str, limit: float) -> dict[str, Any]:
    met = None if value is None else (value <= limit if op == "<=" else value >= limit)
    return {
        "name": name,
        "value": None if value is None else round(value, 3),
        "target": f"{op} {limit:g}",
        "met": met,
    }


def _ratio(cases: dict[str, Any], top: str, bottom: str, key: str) -> float | None:
    if top not in cases or bottom not in cases:
        return None
    return float(cases[top][key]) / float(cases[bottom][key])


def evaluate_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Ratios of medians from this run only, next to the issue's targets."""
    cases = report["cases"]
    per_call = "median_us_per_unit"
    rate = "units_per_second"
    found: list[dict[str, Any]] = []
    for mode in ("sync", "async"):
        for setup, limit in (("full", 1.05), ("unconfigured", 1.00)):
            value = _ratio(cases, f"logout.{mode}.{setup}", f"logout.{mode}.baseline", per_call)
            found.append(_target(f"logout {mode}, {setup} / baseline", value, "<=", limit))
        for setup, limit in (("full", 1.10), ("unconfigured", 1.10)):
            value = _ratio(cases, f"check.{mode}.{setup}", f"check.{mode}.baseline", per_call)
            found.append(_target(f"check {mode}, {setup} / EXISTS", value, "<=", limit))
    for size in report["settings"]["bulk_sizes"]:
        for mode, limit in (("sync", 4.0), ("async", 3.0)):
            value = _ratio(cases, f"bulk{size}.{mode}.module", f"bulk{size}.{mode}.pipeline", rate)
            found.append(_target(f"bulk {size} {mode}, module / pipeline", value, ">=", limit))
        limits = report["wire_limit_set_per_second"]
        module = cases.get(f"bulk{size}.sync.module")
        wire = limits.get(f"bulk{size}.redis-benchmark")
        value = None if not wire or module is None else module[rate] / wire
        found.append(_target(f"bulk {size} sync, module / redis-benchmark", value, ">=", 0.25))
        same = limits.get(f"bulk{size}.set-ex")
        if same and module is not None:
            found.append(
                {
                    "name": f"bulk {size} sync, module / redis-benchmark same SET EX (reference)",
                    "value": round(module[rate] / same, 3),
                    "target": "none",
                    "met": None,
                }
            )
    memory = report["memory"]
    if memory:
        growth = memory["peak_rss_growth_bytes"] / MIB
        found.append(_target(f"peak RSS growth MiB, {memory['count']} hashes", growth, "<=", 64))
    return found


def render_text(report: dict[str, Any]) -> str:
    lines = ["environment:"]
    lines += [f"  {key}: {value}" for key, value in report["environment"].items()]
    lines.append(f"redis: {report['redis']}; settings: {report['settings']}")
    lines.append("")
    lines.append(f"{'case':<34} {'median us/unit':>15} {'units/s':>14}")
    for name, case in report["cases"].items():
        lines.append(
            f"{name:<34} {case['median_us_per_unit']:>15.3f} {case['units_per_second']:>14,.0f}"
        )
    for name, value in report["wire_limit_set_per_second"].items():
        lines.append(f"{name:<34} {'':>15} {value:>14,.0f}")
    if report["memory"]:
        lines.append(f"memory: {report['memory']}")
    lines.append("")
    if max(report["settings"]["bulk_sizes"]) < 100_000:
        lines.append("note: sizes below the issue's (100 000 and up): these ratios mean little")
    width = max(len(target["name"]) for target in report["targets"])
    lines.append(f"{'target':<{width}} {'value':>8} {'target':>8}  met")
    for target in report["targets"]:
        value = "n/a" if target["value"] is None else f"{target['value']:.3f}"
        met = {True: "yes", False: "NO", None: "n/a"}[target["met"]]
        lines.append(f"{target['name']:<{width}} {value:>8} {target['target']:>8}  {met}")
    return "\n".join(lines)
