"""``token-blacklist bench``: the module's cost, measured against plain redis-py.

Every case runs against the same Redis in one process, interleaved and repeated; the
report holds medians, ratios of medians from this run only, and the environment.
``python -m token_blacklist.bench`` runs it without the CLI package.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .report import render_text
from .runner import BenchSettings, run_bench

__all__ = ["BenchSettings", "add_arguments", "main", "run_bench", "run_from_args"]


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part) for part in text.split(",") if part.strip())
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default = BenchSettings()
    parser.add_argument("--redis-url", help="measure against this Redis (default: a private one)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks it runs (CI)")
    parser.add_argument("--calls", type=int, default=default.calls, help="%(default)s")
    parser.add_argument("--rounds", type=int, default=default.rounds, help="%(default)s")
    parser.add_argument(
        "--bulk-sizes", type=_sizes, default=default.bulk_sizes, help="e.g. 100000,1000000"
    )
    parser.add_argument("--bulk-rounds", type=int, default=default.bulk_rounds)
    parser.add_argument(
        "--memory-count", type=int, default=default.memory_count, help="0 skips the memory case"
    )


def run_from_args(args: argparse.Namespace) -> int:
    if args.tiny:
        settings = BenchSettings.tiny()
    else:
        settings = BenchSettings(
            calls=args.calls,
            rounds=args.rounds,
            bulk_sizes=args.bulk_sizes,
            bulk_rounds=args.bulk_rounds,
            memory_count=args.memory_count,
        )
    report = run_bench(settings, args.redis_url)
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m token_blacklist.bench", description=__doc__)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
