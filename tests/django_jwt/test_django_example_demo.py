"""The runnable Django example prints what the README promises: one trace from the HTTP
span to the Redis round trip, log lines with its id, the library's series on /metrics."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import DEMO


def test_demo_prints_one_trace_and_matching_logs() -> None:
    run = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120, check=True
    )
    lines = run.stdout.splitlines()
    assert "POST /logout/ -> 200 {'revoked': 2, 'not_revoked': 0, 'already_expired': 0}" in lines
    assert "GET /me/ again -> 401" in lines
    assert "POST /api/token/refresh/ with it -> 401" in lines
    assert '  token_blacklist_tokens_total{outcome="succeeded"} 2.0' in lines
    spans = [line.split(" ", 1) for line in lines if line[:1] in "0123456789abcdef" and " " in line]
    names = [name for _, name in spans]
    # Depth by indentation: the HTTP span, the library's span under it, the round trip under it.
    assert names == ["    BATCH SET", "  token_blacklist.blacklist_tokens", "POST logout/"]
    assert len({trace_id for trace_id, _ in spans}) == 1
    events = [json.loads(line) for line in lines if line.startswith("{")]
    logout_events = [
        e for e in events if e["event"] in {"token_blacklist.blacklisted", "app.logout"}
    ]
    assert len(logout_events) == 2
    assert {e["trace_id"] for e in logout_events} == {spans[0][0]}
