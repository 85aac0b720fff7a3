"""``token-blacklist bench``: what the module costs next to plain redis-py (see
:mod:`token_blacklist.bench`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..bench import add_arguments, run_from_args

__all__ = ["register"]

EPILOG = """\
Every case runs against the same Redis (a private redis-server on loopback unless
--redis-url is given), interleaved and repeated; the report gives medians, ratios of
medians from this run only, and the environment. Keys are written under the
token_blacklist_bench: prefix with a 300 s TTL. Takes a few minutes at full size.

examples:
  token-blacklist bench
  token-blacklist bench --json > bench.json
  token-blacklist bench --tiny            # seconds: checks that it runs"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the module against plain redis-py (medians, ratios)",
        description="Measure logout calls, checks, bulk revocation and memory against plain "
        "redis-py baselines in one run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=run_from_args)
