"""The demo's simulated traffic: logouts at a steady rate, faults started and stopped
between requests, figures handed to the view."""

from __future__ import annotations

import argparse
import random
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from prometheus_client import CollectorRegistry, Gauge
from rich.live import Live

from ... import TokenBlacklist
from ...hashing import hash_token
from .faults import FaultSchedule
from .view import DemoStats

__all__ = ["DemoTelemetry", "run_traffic"]

ACCESS_LIFETIME = 15 * 60
REFRESH_LIFETIME = 7 * 24 * 3600


@dataclass
class DemoTelemetry:
    """The demo's own tracer and logger, and the registry its ``/metrics`` serves."""

    tracer: Tracer
    provider: TracerProvider
    registry: CollectorRegistry
    logger: Any
    fault_gauge: Gauge


def _logout(blacklist: TokenBlacklist, telemetry: DemoTelemetry, stats: DemoStats) -> None:
    """One simulated logout: revoke the access and refresh token, then replay the access."""
    with telemetry.tracer.start_as_current_span(
        "POST /logout",
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "POST", "http.route": "/logout"},
    ) as span:
        # Tokens issued some time ago: each TTL is what is left until its `exp`.
        access_ttl = ACCESS_LIFETIME - random.randint(0, ACCESS_LIFETIME - 60)
        refresh_ttl = REFRESH_LIFETIME - random.randint(0, REFRESH_LIFETIME - 3600)
        access = hash_token(secrets.token_urlsafe(32))
        refresh = hash_token(secrets.token_urlsafe(32))
        started = time.perf_counter()
        result = blacklist.blacklist_tokens(
            [access, refresh], {access: access_ttl, refresh: refresh_ttl}
        )
        stats.record(result, time.perf_counter() - started)
        span.set_attribute("http.response.status_code", 204 if result.ok else 503)
        if not result.ok:
            span.set_status(Status(StatusCode.ERROR, result.describe()))
        telemetry.logger.info(
            "demo.logout",
            revoked=result.succeeded,
            failed=result.failed,
            reasons={r.value: c for r, c in result.reasons.items()},
        )
        # The client replays its access token: the API must refuse it (fail closed). One
        # it accepts is a logged-out session still usable: the number that matters.
        if blacklist.is_blacklisted(access):
            stats.checks_blocked += 1
        else:
            stats.replays_accepted += 1


def _follow_faults(schedule: FaultSchedule, stats: DemoStats, telemetry: DemoTelemetry) -> None:
    before = schedule.active.name if schedule.active else None
    now = time.monotonic()
    schedule.tick(now)
    after = schedule.active.name if schedule.active else None
    if after != before:
        if before:
            telemetry.fault_gauge.labels(before).set(0)
            telemetry.logger.info("demo.fault_stopped", fault=before)
        if after:
            telemetry.fault_gauge.labels(after).set(1)
            telemetry.logger.warning("demo.fault_started", fault=after)
    stats.active_fault = after
    stats.next_fault_in = schedule.seconds_to_next(now)


def run_traffic(
    args: argparse.Namespace,
    blacklist: TokenBlacklist,
    schedule: FaultSchedule,
    telemetry: DemoTelemetry,
    stats: DemoStats,
    *,
    live: Live | None,
    stop: threading.Event,
) -> None:
    """Logouts at ``--rate`` per second until ``--duration`` or until ``stop`` is set.

    Faults start and stop between two requests, so a request never sees half a change of
    fault; the view is redrawn from this thread, so it never reads figures mid-update.
    """
    interval = 1.0 / args.rate
    deadline = time.monotonic() + args.duration if args.duration > 0 else float("inf")
    next_call = last_status = last_view = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        _follow_faults(schedule, stats, telemetry)
        _logout(blacklist, telemetry, stats)
        stats.check_errors = int(
            telemetry.registry.get_sample_value("token_blacklist_checks_total", {"result": "error"})
            or 0
        )
        now = time.monotonic()
        if live is not None and now - last_view >= 0.25:
            live.update(stats.render(), refresh=True)
            last_view = now
        elif live is None and now - last_status >= args.status_interval:
            print(stats.status_line(), flush=True)
            last_status = now
        next_call = max(next_call + interval, now - 1.0)  # late by >1 s: do not burst
        stop.wait(max(0.0, min(next_call - now, deadline - now)))
