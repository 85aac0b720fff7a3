"""``token-blacklist demo``: logout traffic on an embedded Redis, with real faults, live
figures, ``/metrics``, JSON logs and traces. Ctrl-C (or ``--duration``) stops it cleanly."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import IO, Any

import structlog
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from rich.console import Console
from rich.live import Live

from ... import TokenBlacklist
from ...server import RedisServerError
from ..causes import unusable_message
from ..connection import ConnectionSettingsError, add_connection_options, describe_url
from ..exit_codes import ExitCode
from ..observability import LOG_LEVELS, configure_logging, otlp_configured, tracer_provider
from ..session import UNUSABLE_ERRORS
from .faults import FaultSchedule
from .prometheus import PrometheusProcess, start_prometheus
from .redis_server import DemoRedis, open_demo_redis, ping
from .traffic import DemoTelemetry, run_traffic
from .view import DemoStats

__all__ = ["register", "run"]

EPILOG = """\
Without --redis-url (or REDIS_URL) a private redis-server is started on a free loopback
port and stopped on exit, even on Ctrl-C. Every --fault-interval seconds a real fault is
injected for --fault-duration seconds, in turn: an ACL rule denying half of the keys, a
maxmemory limit (OOM), a paused server (SIGSTOP, at most 3 s). With --redis-url the server
is never reconfigured and only PREFIX:* keys are written; the only fault is a stall of the
demo's own connections through a loopback proxy (none for rediss:// or --cluster).

Logs (JSON lines with trace ids) and spans go to files in a temp dir, removed at the end
unless --keep-output, or in --output-dir (kept). They grow fast: at the default rate,
measured over 75 s with faults, spans.jsonl grew by 15 MB (about 12 MB a minute, since
every Redis round trip is a span) and logs.jsonl by 1 MB. Spans go to OTLP instead when
OTEL_EXPORTER_OTLP_ENDPOINT is set.

The live view counts "replayed tokens accepted": after each logout the demo replays the
access token, and one that the check accepts is a logged-out session still usable (its
revocation failed, e.g. under OOM, while reads still work). Failure ratio and latency
figures are over the last 10 s.

examples:
  token-blacklist demo
  token-blacklist demo --with-prometheus --faults-until 420   # alerts fire, then resolve
  token-blacklist demo --redis-url redis://127.0.0.1:6379/0 --prefix demo --duration 60

exit codes: 0 stopped by --duration or Ctrl-C; 5 Redis could not be started or reached;
2 wrong options; 1 unexpected error (a bug)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="simulated logout traffic with real faults, live figures and telemetry",
        description="Simulate logouts against Redis, inject real faults, watch the telemetry.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=50.0, help="logouts per second")
    parser.add_argument("--duration", type=float, default=0, help="stop after SECONDS (0: never)")
    parser.add_argument("--fault-interval", type=float, default=20.0, metavar="SECONDS")
    parser.add_argument("--fault-duration", type=float, default=8.0, metavar="SECONDS")
    parser.add_argument("--no-faults", action="store_true", help="inject no fault")
    parser.add_argument(
        "--faults-until",
        type=float,
        default=float("inf"),
        metavar="SECONDS",
        help="start no fault after SECONDS, to watch alerts resolve (default: never stop)",
    )
    parser.add_argument("--metrics-port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="logs and spans, kept (default: a temp dir, removed at the end)",
    )
    parser.add_argument(
        "--keep-output",
        action="store_true",
        help="keep the default temp dir of logs and spans (its path is printed at the end)",
    )
    parser.add_argument("--with-prometheus", action="store_true", help="also start Prometheus")
    parser.add_argument("--view", choices=("auto", "live", "plain"), default="auto")
    parser.add_argument("--status-interval", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument("--json", action="store_true", help="print the final summary as JSON")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    add_connection_options(parser, url_default=False)
    parser.set_defaults(
        prefix=os.environ.get("TOKEN_BLACKLIST_PREFIX", "token_blacklist_demo"),
        socket_timeout=0.25,
        connect_timeout=0.5,
        run=run,
    )


def _banner(out: IO[str], lines: dict[str, str]) -> None:
    out.write("token-blacklist demo\n")
    for name, value in lines.items():
        out.write(f"  {name + ':':<12}{value}\n")
    out.flush()


def _check_options(args: argparse.Namespace) -> str | None:
    if not 0 < args.rate <= 100_000:
        return "--rate must be between 0 and 100000 logouts per second"
    if args.fault_interval <= 0 or args.fault_duration <= 0:
        return "--fault-interval and --fault-duration must be positive"
    if args.fault_duration >= args.fault_interval:
        return "--fault-duration must be shorter than --fault-interval"
    return None


def _start_observability(
    args: argparse.Namespace, stack: ExitStack, directory: Path, banner: dict[str, str]
) -> DemoTelemetry:
    log_file = stack.enter_context((directory / "logs.jsonl").open("a", encoding="utf-8"))
    configure_logging(log_file, args.log_level)
    span_file = stack.enter_context((directory / "spans.jsonl").open("a", encoding="utf-8"))
    provider = tracer_provider("token-blacklist-demo", span_file)
    assert provider is not None  # a console file was given
    stack.callback(provider.shutdown)
    registry = CollectorRegistry()
    fault_gauge = Gauge(
        "token_blacklist_demo_fault_active",
        "1 while the demo injects this fault.",
        ["fault"],
        registry=registry,
    )
    http_server, _ = start_http_server(args.metrics_port, addr="127.0.0.1", registry=registry)
    stack.callback(http_server.server_close)
    stack.callback(http_server.shutdown)
    port = http_server.server_address[1]
    banner["metrics"] = f"http://127.0.0.1:{port}/metrics (OpenMetrics + exemplars on request)"
    banner["logs"] = str(directory / "logs.jsonl")
    banner["traces"] = (
        "OTLP ($OTEL_EXPORTER_OTLP_ENDPOINT)" if otlp_configured() else str(span_file.name)
    )
    return DemoTelemetry(
        provider.get_tracer("token_blacklist.demo"),
        provider,
        registry,
        structlog.get_logger("token_blacklist.demo"),
        fault_gauge,
    )


def _start_prometheus(stack: ExitStack, metrics_url: str, directory: Path) -> str:
    port = int(metrics_url.split(":")[2].split("/", maxsplit=1)[0])
    started = start_prometheus(port, directory)
    if isinstance(started, str):
        return f"skipped: {started}"
    process: PrometheusProcess = started
    stack.callback(process.stop)
    return f"{process.url} (alerts: {process.url}/alerts)"


def _final(args: argparse.Namespace, stats: DemoStats, schedule: FaultSchedule) -> None:
    summary = stats.as_dict() | {"faults_injected": schedule.injected}
    if args.json:
        print(json.dumps(summary, sort_keys=True), flush=True)
        return
    reasons = ", ".join(f"{r}: {c}" for r, c in stats.reasons.most_common()) or "none"
    faults = ", ".join(f"{f} x{n}" for f, n in schedule.injected.items()) or "none"
    print(
        f"summary: {stats.requests} logouts, {stats.revoked} tokens revoked, "
        f"{stats.failed} failed ({reasons}); replayed tokens accepted: "
        f"{stats.replays_accepted}; faults: {faults}",
        flush=True,
    )


def _setup(
    args: argparse.Namespace, stack: ExitStack, directory: Path
) -> tuple[DemoRedis, DemoTelemetry, dict[str, str]]:
    directory.mkdir(parents=True, exist_ok=True)
    banner: dict[str, str] = {}
    demo_redis = open_demo_redis(args, stack)
    banner["redis"] = demo_redis.where
    ping(demo_redis.client)
    telemetry = _start_observability(args, stack, directory, banner)
    if args.with_prometheus:
        banner["prometheus"] = _start_prometheus(stack, banner["metrics"], directory)
    if args.no_faults or not demo_redis.faults:
        banner["faults"] = demo_redis.note or "none (--no-faults)"
    else:
        names = ", ".join(f.name for f in demo_redis.faults)
        banner["faults"] = (
            f"{names} in turn, every {args.fault_interval:g} s for {args.fault_duration:g} s"
        )
    return demo_redis, telemetry, banner


def _show_traffic(
    args: argparse.Namespace,
    blacklist: TokenBlacklist,
    schedule: FaultSchedule,
    telemetry: DemoTelemetry,
    stats: DemoStats,
) -> None:
    """Run the traffic under the live view (a terminal) or with status lines, until the
    duration is over or Ctrl-C / SIGTERM.

    The signals only set a flag the loop checks between requests: a KeyboardInterrupt can
    land inside a finalizer (redis-py's ``ConnectionPool.__del__``), where Python prints and
    swallows it, and the demo would run on. While the clean-up runs, further signals only
    set the flag again, so they cannot cut it short and orphan the server.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if args.view == "live" or (args.view == "auto" and sys.stdout.isatty()):
        with Live(stats.render(), console=Console(), auto_refresh=False) as live:
            run_traffic(args, blacklist, schedule, telemetry, stats, live=live, stop=stop)
    else:
        run_traffic(args, blacklist, schedule, telemetry, stats, live=None, stop=stop)


def run(args: argparse.Namespace) -> int:
    problem = _check_options(args)
    if problem:
        print(f"token-blacklist demo: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    stats = DemoStats()
    directory = Path(args.output_dir or tempfile.mkdtemp(prefix="token-blacklist-demo-"))
    try:
        return _run(args, stats, directory)
    finally:
        _leave_output(args, directory)


def _leave_output(args: argparse.Namespace, directory: Path) -> None:
    """The output's path, printed last; a temp dir is removed unless --keep-output."""
    out = sys.stderr if args.json else sys.stdout
    if args.output_dir is None and not args.keep_output:
        shutil.rmtree(directory, ignore_errors=True)
        print(f"output: {directory} removed (--keep-output keeps it)", file=out, flush=True)
    else:
        print(f"output: logs and spans kept in {directory}", file=out, flush=True)


def _run(args: argparse.Namespace, stats: DemoStats, directory: Path) -> int:
    with ExitStack() as stack:
        try:
            demo_redis, telemetry, banner = _setup(args, stack, directory)
        except RedisServerError as error:
            print(f"token-blacklist demo: cannot start: {error}", file=sys.stderr)
            return ExitCode.UNAVAILABLE
        except ConnectionSettingsError as error:
            print(f"token-blacklist demo: {error}", file=sys.stderr)
            return ExitCode.USAGE
        except UNUSABLE_ERRORS as error:
            where = describe_url(args.redis_url or "redis://127.0.0.1")
            print(unusable_message("demo", where, error), file=sys.stderr)
            return ExitCode.UNAVAILABLE
        faults = [] if args.no_faults else demo_redis.faults
        schedule = FaultSchedule(
            faults, args.fault_interval, args.fault_duration, until=args.faults_until
        )
        stack.callback(schedule.stop)  # runs before the server stops (last in, first out)
        blacklist = TokenBlacklist(
            demo_redis.client,
            args.prefix,
            registry=telemetry.registry,
            tracer_provider=telemetry.provider,
            logger=structlog.get_logger("token_blacklist"),
            retries=1,
            on_check_error="deny",
            trace_round_trips=True,  # a trace to follow down to the Redis round trips
        )
        _banner(sys.stdout, banner)
        stats.urls = {k: v for k, v in banner.items() if k in ("metrics", "prometheus")}
        _show_traffic(args, blacklist, schedule, telemetry, stats)
        _final(args, stats, schedule)
    return ExitCode.OK
