"""``token-blacklist bench``: the module's cost, measured against plain redis-py.

Every case runs against the same Redis in one process, interleaved and repeated; the
report holds best and median rounds, ratios of both from this run only, the floor of the
machine (wire, pool, span, metrics) measured in the same rounds, and the environment.
``python -m token_blacklist.bench ARGS`` is ``token-blacklist bench ARGS``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .report import render_text
from .runner import BenchSettings, run_bench

__all__ = ["BenchSettings", "add_arguments", "main", "print_report", "run_bench", "settings_from"]


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench's own options (the connection options are the CLI's, see ``cli.bench``)."""
    default = BenchSettings()
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
    parser.add_argument(
        "--cli-count",
        type=int,
        default=default.cli_count,
        help="hashes of the revoke-command case (%(default)s; 0 skips it)",
    )
    parser.add_argument("--cli-rounds", type=int, default=default.cli_rounds)


def settings_from(args: argparse.Namespace, client_kwargs: Mapping[str, Any]) -> BenchSettings:
    if args.tiny:
        return BenchSettings.tiny(client_kwargs=client_kwargs)
    return BenchSettings(
        calls=args.calls,
        rounds=args.rounds,
        bulk_sizes=args.bulk_sizes,
        bulk_rounds=args.bulk_rounds,
        memory_count=args.memory_count,
        cli_count=args.cli_count,
        cli_rounds=args.cli_rounds,
        client_kwargs=client_kwargs,
    )


def print_report(report: dict[str, Any], as_json: bool) -> None:
    print(json.dumps(report, indent=2) if as_json else render_text(report))


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
