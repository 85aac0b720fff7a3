"""Prometheus multiprocess mode: two worker processes' counts add up in the exposition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics.exposition import generate_latest

from assertions import held
from conftest import PARTIAL_USER
from token_blacklist import hash_token
from token_blacklist.server import RedisServer, free_port

WORKER = Path(__file__).with_name("multiprocess_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_add_up(acl_server: RedisServer, tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    args = [str(acl_server.port), *PARTIAL_USER]
    # Both at once, as gunicorn workers would run; the ACL user makes both outcomes occur.
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args, str(count)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for count in (40, 60)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err.decode()
        assert err == b"", err.decode()  # no warning about exemplars or anything else
        results.append(json.loads(out.splitlines()[-1]))  # structlog prints above it

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    confirmed = [h for r in results for h in r["confirmed"]]
    failed = sum(r["failed"] for r in results)
    assert confirmed and failed  # both outcomes, or the sums prove little

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("token_blacklist_tokens_total", outcome="succeeded") == len(confirmed)
    assert sample("token_blacklist_tokens_total", outcome="failed") == failed
    assert sample("token_blacklist_token_failures_total", reason="noperm") == failed
    assert sample("token_blacklist_operations_total", operation="blacklist", outcome="partial") == 2
    assert sample("token_blacklist_batch_size_sum") == 100
    assert sample("token_blacklist_operation_duration_seconds_count", operation="blacklist") == 2
    # What Redis holds is what the exposition says succeeded.
    admin = acl_server.client()
    assert held(admin, confirmed) == set(confirmed)
    admin.close()

    # The library knows it is in multiprocess mode and builds no exemplars there...
    assert [r["exemplars"] for r in results] == [False, False]
    # ...because prometheus_client would drop them; _created samples are lost there too.
    text = generate_latest(registry).decode()
    assert "trace_id" not in text
    assert "_created" not in text


def test_uvicorn_workers_serve_the_summed_metrics(
    redis_server: RedisServer, admin: redis.Redis, tmp_path: Path
) -> None:
    """The README's set-up, for real: the example app under ``uvicorn --workers 2``, each
    logout on a new connection, and /metrics (any worker) reports the sum."""
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "REDIS_URL": redis_server.url}
    command = [sys.executable, "-m", "uvicorn", "--workers", "2", "--port", str(port)]
    command += ["--log-level", "warning", "--factory", "examples.fastapi_logout_app:app_from_env"]
    server = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        # Each worker creates its metric files in its lifespan: wait for both workers.
        while not _serving(base) or len(list(tmp_path.glob("counter_*.db"))) < 2:
            assert time.monotonic() < deadline and server.poll() is None, "uvicorn did not start"
            time.sleep(0.1)
        hashes = []
        for user in range(30):
            with httpx.Client(base_url=base) as http:  # a new connection: any worker
                pair = http.post("/login", json={"user": f"user-{user}"}).json()
                answer = http.post(
                    "/logout",
                    json={"refresh_token": pair["refresh_token"]},
                    headers={"Authorization": f"Bearer {pair['access_token']}"},
                )
                assert answer.status_code == 200
            hashes += [hash_token(pair["access_token"]), hash_token(pair["refresh_token"])]
        text = httpx.get(f"{base}/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert len(held(admin, hashes)) == 60
    assert 'token_blacklist_tokens_total{outcome="succeeded"} 60.0' in text
    assert 'token_blacklist_operations_total{operation="blacklist",outcome="success"} 30.0' in text
    # Each worker process writes its own file: both served some of the logouts.
    per_worker = [_succeeded(path) for path in sorted(tmp_path.glob("counter_*.db"))]
    assert len(per_worker) == 2 and all(per_worker) and sum(per_worker) == 60


def _serving(base: str) -> bool:
    try:
        return httpx.get(f"{base}/metrics", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _succeeded(path: Path) -> float:
    """token_blacklist_tokens_total{outcome="succeeded"} in one worker's file."""
    for metric in MultiProcessCollector.merge([str(path)], accumulate=True):
        for sample in metric.samples:
            if sample.name == "token_blacklist_tokens_total" and sample.labels == {
                "outcome": "succeeded"
            }:
                return float(sample.value)
    return 0.0
