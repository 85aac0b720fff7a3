"""``token-blacklist demo``: Ctrl-C leaves nothing behind; faults appear and recover;
summary, logs and spans agree; a foreign server is only touched inside the prefix."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import ClassVar

import pytest

from .conftest import cli_env, command

REPO = Path(__file__).resolve().parents[2]
RULE_FILES = ("rules.yml", "alerts.yml")


def start_demo(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start the demo; return it with its banner (name -> value) once printed."""
    process = subprocess.Popen(
        [*command(), "demo", "--view", "plain", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    assert process.stdout is not None
    banner: dict[str, str] = {}
    for line in process.stdout:
        match = re.match(r"\s+(\w+):\s+(.*)", line)
        if match:
            banner[match[1]] = match[2]
        if "faults" in banner:
            return process, banner
    pytest.fail(f"demo ended before its banner: {process.communicate(timeout=10)}")


def scrape(url: str) -> str:
    request = urllib.request.Request(
        url, headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()


def revoked_so_far(metrics: str) -> float:
    match = re.search(r'^token_blacklist_tokens_total\{outcome="succeeded"\} (\S+)', metrics, re.M)
    return float(match[1]) if match else 0.0


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_demo_and_its_private_redis(tmp_path, stop_signal):
    process, banner = start_demo("--duration", "60", "--output-dir", str(tmp_path))
    pid = int(re.search(r"pid (\d+)", banner["redis"])[1])
    port = int(re.search(r"127\.0\.0\.1:(\d+)", banner["redis"])[1])
    metrics_url = banner["metrics"].split()[0]
    deadline = time.monotonic() + 20
    while revoked_so_far(metrics := scrape(metrics_url)) < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert revoked_so_far(metrics) >= 20
    assert re.search(
        r'operation_duration_seconds_bucket\{.*\} [\d.]+ # \{trace_id="[0-9a-f]{32}"', metrics
    )

    process.send_signal(stop_signal)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "summary:" in out
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_rotating_faults_fail_part_of_the_traffic_then_recover(cli, tmp_path):
    ran = cli(
        "demo", "--view", "plain", "--json", "--rate", "60", "--duration", "9.5",
        "--fault-interval", "2.5", "--fault-duration", "1", "--output-dir", str(tmp_path),
        timeout=60,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out.splitlines()[-1])
    assert summary["faults_injected"] == {"acl": 1, "maxmemory": 1, "pause": 1}
    assert {"noperm", "oom", "timeout"} <= set(summary["reasons"])
    assert 0 < summary["tokens_failed"] < summary["tokens_requested"]
    assert sum(summary["reasons"].values()) == summary["tokens_failed"]
    # Every replay is refused or accepted; under OOM a revocation fails while EXISTS still
    # answers "not revoked", so some replays were accepted, and the view says how many.
    assert summary["replays_accepted"] + summary["checks_blocked"] == summary["requests"]
    assert 0 < summary["replays_accepted"] <= summary["tokens_failed"]

    logs = read_jsonl(tmp_path / "logs.jsonl")
    logouts = [e for e in logs if e["event"] == "demo.logout"]
    assert len(logouts) == summary["requests"]
    assert sum(e["revoked"] for e in logouts) == summary["tokens_revoked"]
    assert sum(e["failed"] for e in logouts) == summary["tokens_failed"]
    last_stop = max(i for i, e in enumerate(logs) if e["event"] == "demo.fault_stopped")
    assert any(e["event"] == "demo.logout" and e["failed"] == 0 for e in logs[last_stop:])

    spans = read_jsonl(tmp_path / "spans.jsonl")
    requests = [s for s in spans if s["name"] == "POST /logout"]
    assert len(requests) == summary["requests"]
    failed_requests = [s for s in requests if s["status"]["status_code"] == "ERROR"]
    assert len(failed_requests) == sum(1 for e in logouts if e["failed"])
    # Every blacklist call's Redis round trips are spans of their own under it.
    calls = [s for s in spans if s["name"] == "token_blacklist.blacklist_tokens"]
    assert len(calls) == summary["requests"]
    for call in calls:
        round_trips = [
            s
            for s in spans
            if s["parent_id"] == call["context"]["span_id"] and s["kind"] == "SpanKind.CLIENT"
        ]
        assert len(round_trips) == call["attributes"]["token_blacklist.round_trips"]
        assert {s["name"] for s in round_trips} <= {"SET", "BATCH SET"}
    trace_ids = {s["context"]["trace_id"].removeprefix("0x") for s in spans}
    assert {e["trace_id"] for e in logs if "trace_id" in e} <= trace_ids
    text = (tmp_path / "logs.jsonl").read_text() + (tmp_path / "spans.jsonl").read_text()
    assert "token_blacklist_demo:" not in text  # no key, so no hash, in logs or spans


def test_a_foreign_server_is_touched_only_inside_the_prefix(cli, redis_server, admin, tmp_path):
    admin.set("other-app:session", "kept")
    acl_before = admin.acl_list()
    config_before = admin.config_get("maxmemory*")
    ran = cli(
        "demo", "--view", "plain", "--json", "--redis-url", redis_server.url,
        "--prefix", "demo-test", "--rate", "80", "--duration", "4",
        "--fault-interval", "1.5", "--fault-duration", "1", "--faults-until", "2",
        "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out.splitlines()[-1])
    assert summary["faults_injected"] == {"stall": 1}  # at 1.5 s; none after --faults-until
    assert summary["reasons"].get("timeout", 0) > 0
    demo_keys = admin.keys("demo-test:*")
    # A timed-out write may still land once the stall ends: never fewer than reported.
    assert summary["tokens_revoked"] <= len(demo_keys) <= summary["tokens_requested"]
    assert admin.dbsize() == len(demo_keys) + 1
    assert admin.get("other-app:session") == b"kept"
    assert admin.acl_list() == acl_before and admin.config_get("maxmemory*") == config_before


def test_with_prometheus_starts_it_or_says_why_not(tmp_path):
    process, banner = start_demo(
        "--duration", "30", "--no-faults", "--with-prometheus", "--output-dir", str(tmp_path)
    )
    try:
        prometheus = banner["prometheus"]
        shipped = all((REPO / "dashboards" / "prometheus" / f).is_file() for f in RULE_FILES)
        if not (shutil.which("prometheus") and shipped):
            assert prometheus.startswith("skipped: ")
            assert "not found" in prometheus or "not on PATH" in prometheus
            return
        url = prometheus.split()[0]
        with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=5) as response:
            groups = json.load(response)["data"]["groups"]
        assert groups, "the shipped rules and alerts were not loaded"
        assert any(r["type"] == "alerting" for g in groups for r in g["rules"])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, int]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], len(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_traces_go_to_otlp_when_the_standard_variable_is_set(cli, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ran = cli(
            "demo", "--view", "plain", "--duration", "1.5", "--no-faults",
            "--output-dir", str(tmp_path),
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}"},
        )  # fmt: skip
    finally:
        server.shutdown()
    assert ran.code == 0, ran.err
    assert "OTLP" in ran.out
    assert _Collector.received
    assert {(path, kind) for path, kind, _ in _Collector.received} == {
        ("/v1/traces", "application/x-protobuf")
    }
    assert not (tmp_path / "spans.jsonl").read_text()


def test_demo_on_a_cluster_counts_what_the_nodes_hold(cli, cluster, tmp_path):
    ran = cli(
        "demo", "--view", "plain", "--json", "--cluster", "--redis-url", cluster.nodes[0].url,
        "--prefix", "demo-cluster", "--duration", "1.5", "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out.splitlines()[-1])
    assert summary["faults_injected"] == {}
    held = sum(len(keys) for keys in cluster.keys_by_node("demo-cluster").values())
    assert summary["tokens_revoked"] == held == summary["tokens_requested"] > 0


def test_live_view_on_a_terminal(tmp_path):
    """On a terminal (a pty here) the rich view shows the figures and the active fault."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [*command(), "demo", "--duration", "3", "--fault-interval", "1", "--fault-duration",
         "0.8", "--output-dir", str(tmp_path)],
        stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE,
        env=cli_env(COLUMNS="100", LINES="40", TERM="xterm"),
    )  # fmt: skip
    os.close(secondary)
    screen = b""
    with contextlib.suppress(OSError):  # EIO once the demo has closed the terminal
        while chunk := os.read(primary, 65536):
            screen += chunk
    os.close(primary)
    assert process.wait(timeout=20) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    for label in ("logout requests", "tokens revoked", "failure ratio", "failures by reason",
                  "latency p50 / p99", "active fault", "noperm"):  # fmt: skip
        assert label in text, label
    assert "summary:" in text


def test_the_default_output_dir_is_removed_unless_kept(cli):
    for keep in ((), ("--keep-output",)):
        ran = cli("demo", "--view", "plain", "--duration", "1", "--no-faults", *keep)
        assert ran.code == 0, ran.err
        last = ran.out.splitlines()[-1]
        match = re.match(r"output: (?:logs and spans kept in )?(\S+)", last)
        assert match, last
        directory = Path(match[1])
        assert "replayed tokens accepted: 0" in ran.out  # nothing failed: nothing accepted
        if keep:
            assert (directory / "spans.jsonl").stat().st_size > 0
            assert (directory / "logs.jsonl").stat().st_size > 0
            shutil.rmtree(directory)
        else:
            assert last.endswith("removed (--keep-output keeps it)")
            assert not directory.exists()
