"""``--pushgateway URL``: a batch job's metrics where the dashboards already look.

A one-shot command is never scraped, so its metrics are pushed once at the end
(prometheus_client's ``push_to_gateway``, which replaces the job's previous group): the
library's own ``token_blacklist_*`` counters of this run, labelled like an application's,
plus the run's outcome. A push that fails is a warning; it never changes the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from .summary import RevokeSummary

__all__ = ["add_pushgateway_options", "push_metrics"]

DEFAULT_JOB = "token-blacklist-revoke"


def add_pushgateway_options(parser: Any) -> None:
    group = parser.add_argument_group("metrics of the run")
    group.add_argument(
        "--pushgateway",
        metavar="URL",
        default=os.environ.get("TOKEN_BLACKLIST_PUSHGATEWAY"),
        help="push this run's metrics to a Prometheus Pushgateway at the end "
        "(default: $TOKEN_BLACKLIST_PUSHGATEWAY)",
    )
    group.add_argument(
        "--pushgateway-job",
        metavar="NAME",
        default=DEFAULT_JOB,
        help="the job label of the pushed group (default: %(default)s)",
    )


def push_metrics(
    args: argparse.Namespace, registry: CollectorRegistry, summary: RevokeSummary, code: int
) -> None:
    if not args.pushgateway:
        return
    outcome = {
        "token_blacklist_revoke_exit_code": ("Exit code of the last revoke run.", code),
        "token_blacklist_revoke_duration_seconds": (
            "Wall time of the last revoke run.",
            summary.duration,
        ),
        "token_blacklist_revoke_unconfirmed_tokens": (
            "Tokens of the last run not confirmed: failed, not sent or interrupted.",
            summary.failed + summary.unconfirmed,
        ),
        "token_blacklist_revoke_last_run_timestamp_seconds": (
            "When the last revoke run ended (Unix time).",
            time.time(),
        ),
    }
    for name, (documentation, value) in outcome.items():
        Gauge(name, documentation, registry=registry).set(value)
    try:
        push_to_gateway(args.pushgateway, job=args.pushgateway_job, registry=registry, timeout=5)
    except (OSError, ValueError) as error:
        # urllib's errors name the URL and the HTTP status, never a key or a token.
        reason = (
            getattr(error, "reason", None) or getattr(error, "code", None) or type(error).__name__
        )
        print(
            f"token-blacklist revoke: warning: could not push metrics to --pushgateway ({reason})",
            file=sys.stderr,
        )
