"""Prometheus multiprocess mode: two worker processes' counts add up in the exposition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics.exposition import generate_latest

from assertions import held
from conftest import PARTIAL_USER
from token_blacklist.server import RedisServer

WORKER = Path(__file__).with_name("multiprocess_worker.py")


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
