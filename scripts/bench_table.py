"""The README's performance tables from one ``token-blacklist bench --json`` report.

    .venv/bin/token-blacklist bench --json > bench.json
    .venv/bin/python scripts/bench_table.py bench.json

Prints Markdown: the run's environment, every target (value = ratio of best rounds, the
ratio of medians next to it), the per-call cases in microseconds and the floor rows of the
same run. Nothing is computed here that the report does not hold.
"""

from __future__ import annotations

import json
import sys
from typing import Any

_MET = {True: "met", False: "**not met**", None: "(reference)"}
_CALL_CASES = ("logout", "check", "subject_check", "cached_check", "composed")
_FLOORS = ("socket-rt", "conn-rt", "pool", "sdk-span", "metrics", "log-filtered", "cache-hit")


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def environment_line(report: dict[str, Any]) -> str:
    env = report["environment"]
    settings = report["settings"]
    return (
        f"{env['cpus']} CPUs ({env['cpu']}), {env['platform']}; Python {env['python']}, "
        f"redis-py {env['redis-py']}, hiredis {env['hiredis']}, Redis {env['redis-server']} "
        f"({report['redis']}), opentelemetry-sdk {env['opentelemetry-sdk']}, structlog "
        f"{env['structlog']}, prometheus-client {env['prometheus-client']}; "
        f"{settings['rounds']} rounds of {settings['calls']} calls, "
        f"{settings['bulk_rounds']} rounds of each bulk size, {settings['cli_rounds']} "
        "rounds of the revoke command."
    )


def targets_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| target | value (best) | median | target | | composed floor (best) | module / floor |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for target in report["targets"]:
        verdict = target.get("floor_verdict")
        status = _MET[target["met"]]
        if verdict in ("below the floor", "above the floor"):
            status += f": {verdict}"
        lines.append(
            f"| {target['name']} | {_ratio(target['value'])} | "
            f"{_ratio(target['median_value'])} | {target['target']} | {status} | "
            f"{_ratio(target.get('floor_value'))} | {_ratio(target.get('module_over_floor'))} |"
        )
    return lines


def cases_table(report: dict[str, Any]) -> list[str]:
    cases = report["cases"]
    lines = ["| case | best us/call | median us/call |", "| --- | --- | --- |"]
    for name, case in cases.items():
        if name.split(".")[0] in _CALL_CASES:
            lines.append(
                f"| {name} | {case['best_us_per_unit']:.1f} | {case['median_us_per_unit']:.1f} |"
            )
    return lines


def floor_table(report: dict[str, Any]) -> list[str]:
    cases = report["cases"]
    pipeline = cases["logout.sync.baseline"]["best_us_per_unit"]
    lines = ["| floor row | best us | / plain pipeline |", "| --- | --- | --- |"]
    for name in _FLOORS:
        case = cases.get(f"floor.{name}")
        if case is not None:
            best = case["best_us_per_unit"]
            lines.append(f"| {name} | {best:.1f} | {best / pipeline:.2f} |")
    floor = report["floor"]["best"]
    if floor:
        lines += [
            f"| floor of a logout, unconfigured (conn-rt + pool) | "
            f"{floor['logout_unconfigured_us']:.1f} | "
            f"{floor['logout_unconfigured_per_pipeline']:.2f} |",
            f"| floor of a logout, full telemetry (+ span, metrics, filtered log) | "
            f"{floor['logout_full_us']:.1f} | {floor['logout_full_per_pipeline']:.2f} |",
            f"| floor of a check, full telemetry | {floor['check_full_us']:.1f} | "
            f"{floor['check_full_per_exists']:.2f} x EXISTS |",
        ]
        if "cached_hit_unconfigured_us" in floor:
            lines += [
                f"| floor of a cached hit, unconfigured (cache-hit) | "
                f"{floor['cached_hit_unconfigured_us']:.2f} | "
                f"{floor['cached_hit_unconfigured_per_exists']:.3f} x EXISTS |",
                f"| floor of a cached hit, full telemetry (+ span) | "
                f"{floor['cached_hit_full_us']:.1f} | "
                f"{floor['cached_hit_full_per_exists']:.3f} x EXISTS |",
            ]
    return lines


def main(path: str) -> None:
    with open(path, encoding="utf-8") as source:
        report = json.load(source)
    out = [environment_line(report), "", *targets_table(report), ""]
    out += [*cases_table(report), "", *floor_table(report)]
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
