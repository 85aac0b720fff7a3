"""CI smoke run of ``token-blacklist bench --tiny``: it runs and prints a complete JSON
report. It says nothing about speed (timed assertions would only measure the CI host)."""

from __future__ import annotations

import json
import subprocess
import sys

CASES = ("baseline", "full", "unconfigured", "peer")
FLOOR = ("socket-rt", "conn-rt", "pool", "sdk-span", "metrics", "log-filtered", "cache-hit")


def test_bench_tiny_prints_a_complete_json_report() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "token_blacklist.cli", "bench", "--tiny", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(completed.stdout)
    cases = report["cases"]
    for mode in ("sync", "async"):
        for setup in CASES:
            assert cases[f"logout.{mode}.{setup}"]["units_per_second"] > 0
        for setup in ("baseline", "full", "unconfigured"):
            assert cases[f"check.{mode}.{setup}"]["units_per_second"] > 0
        for setup in ("baseline", "full"):
            assert cases[f"subject_check.{mode}.{setup}"]["units_per_second"] > 0
        for side in ("pipeline", "module"):
            assert cases[f"bulk2000.{mode}.{side}"]["units"] == 2000
    for name in FLOOR:
        case = cases[f"floor.{name}"]
        assert 0 < case["best_us_per_unit"] <= case["median_us_per_unit"]
    for call in ("logout", "check"):
        for mode in ("sync", "async"):
            for setup in ("full", "unconfigured"):
                assert cases[f"composed.{call}.{mode}.{setup}"]["units_per_second"] > 0
    verdicts = {target["name"]: target.get("floor_verdict") for target in report["targets"]}
    assert verdicts["check sync, full / EXISTS"] in {"met", "below the floor", "above the floor"}
    assert verdicts["subject check async, full / pipeline EXISTS + ZSCORE"] is not None
    assert cases["cli.revoke"]["units"] == cases["cli.blacklist_stream"]["units"] == 2000
    assert set(report["floor"]["best"]) >= {
        "logout_full_per_pipeline", "check_full_per_exists", "cached_hit_unconfigured_per_exists"
    }  # fmt: skip
    assert report["memory"]["succeeded"] == report["memory"]["count"] == 5000
    assert {"redis-py", "hiredis", "python", "redis-server"} <= set(report["environment"])
    names = {target["name"] for target in report["targets"]}
    assert "logout sync, full / plain pipeline" in names
    assert "logout async, full / instrumented peer" in names
    assert "subject check sync, full / pipeline EXISTS + ZSCORE" in names
    assert "revoke command / blacklist_stream, 2000 hashes" in names
    assert "bulk 2000 sync, module / redis-benchmark SET EX distinct keys" in names
    assert all(
        target["value"] is not None and target["median_value"] is not None
        for target in report["targets"]
        if "redis-benchmark" not in target["name"]
    )
