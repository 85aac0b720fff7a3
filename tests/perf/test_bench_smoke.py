"""CI smoke run of ``token-blacklist bench --tiny``: it runs and prints a complete JSON
report. It says nothing about speed (timed assertions would only measure the CI host)."""

from __future__ import annotations

import json
import subprocess
import sys


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
        for setup in ("baseline", "full", "unconfigured"):
            assert cases[f"logout.{mode}.{setup}"]["units_per_second"] > 0
            assert cases[f"check.{mode}.{setup}"]["units_per_second"] > 0
        for side in ("pipeline", "module"):
            assert cases[f"bulk2000.{mode}.{side}"]["units"] == 2000
    assert report["memory"]["succeeded"] == report["memory"]["count"] == 5000
    assert {"redis-py", "hiredis", "python", "redis-server"} <= set(report["environment"])
    names = {target["name"] for target in report["targets"]}
    assert "logout sync, full / baseline" in names
    assert "bulk 2000 sync, module / pipeline" in names
    assert all(
        target["value"] is not None
        for target in report["targets"]
        if "redis-benchmark" not in target["name"]
    )
