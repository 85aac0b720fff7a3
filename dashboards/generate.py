"""Write (or check) the generated files: ``python -m dashboards.generate [--check]``.

Run from the repository root. ``--check`` writes nothing and exits 1 when a committed file
differs from what the code generates (CI and the tests use it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .dashboard import render_dashboard
from .rule_files import render
from .rules import alert_groups, recording_groups
from .settings import Settings

__all__ = ["ROOT", "generated_files", "main"]

ROOT = Path(__file__).resolve().parent
RULES = ROOT / "prometheus" / "rules.yml"
ALERTS = ROOT / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "grafana" / "token-blacklist.json"


def generated_files(settings: Settings) -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    return {
        RULES: render(recording_groups()),
        ALERTS: render(alert_groups(settings)),
        DASHBOARD: render_dashboard(settings),
    }


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--objective", type=float, help="SLO objective, e.g. 0.999")
    parser.add_argument("--runbook-url", help="URL of runbook.md where your SREs read it")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    settings = Settings()
    if args.objective is not None:
        settings = replace(settings, objective=args.objective)
    if args.runbook_url:
        settings = replace(settings, runbook_url=args.runbook_url)
    stale = []
    for path, text in generated_files(settings).items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        verb = "differs from the generator" if args.check else "written"
        print(f"{path.relative_to(ROOT.parent)}: {verb}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
