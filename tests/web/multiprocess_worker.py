"""One "worker process" for test_multiprocess_metrics: started with PROMETHEUS_MULTIPROC_DIR
set, it blacklists hashes through the library's default registry, with a sampled tracer
(so exemplars would be built if the library did not skip them), and prints its result."""

from __future__ import annotations

import json
import secrets
import sys

import redis
from opentelemetry.sdk.trace import TracerProvider

from token_blacklist import TokenBlacklist
from token_blacklist._observability.metrics import exemplars_supported


def main(port: int, username: str, password: str, count: int) -> None:
    client = redis.Redis(port=port, username=username, password=password)
    tracer = TracerProvider().get_tracer("worker")
    hashes = [secrets.token_hex(32) for _ in range(count)]
    with tracer.start_as_current_span("request"):
        # No registry given: the default one, as an app under gunicorn would use.
        result = TokenBlacklist(client, tracer_provider=TracerProvider()).blacklist_tokens(
            hashes, 60
        )
    client.close()
    confirmed = [h for h in hashes if h not in result.failures]
    print(
        json.dumps(
            {"confirmed": confirmed, "failed": result.failed, "exemplars": exemplars_supported()}
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]))
