"""Write (or check) the generated files: ``python -m dashboards.generate [--check]``.

Run from the repository root. Without options it writes the committed files (generated with
the defaults, among them a placeholder runbook URL). ``--check`` writes nothing and exits 1
when a committed file differs from what the code generates (CI and the tests use it).

To deploy, generate your own copy with your runbook URL first:
``python -m dashboards.generate --runbook-url https://wiki.example.com/token-blacklist/runbook.md
--namespace monitoring --label release=kube-prometheus-stack --out deploy/``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .dashboard import render_dashboard
from .manifests import (
    DASHBOARD_CONFIGMAP,
    PROMETHEUS_RULE,
    render_dashboard_configmap,
    render_kustomization,
    render_prometheus_rule,
)
from .rule_files import render
from .rules import alert_groups, recording_groups
from .settings import PLACEHOLDER_RUNBOOK_URL, Settings

__all__ = ["ALERTS", "DASHBOARD", "KUBERNETES", "ROOT", "RULES", "generated_files", "main"]

ROOT = Path(__file__).resolve().parent
RULES = Path("prometheus", "rules.yml")
ALERTS = Path("prometheus", "alerts.yml")
DASHBOARD = Path("grafana", "token-blacklist.json")
KUBERNETES = Path("kubernetes")


def generated_files(settings: Settings, root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (under ``root``) and the text it must hold."""
    recording, alerting = recording_groups(settings), alert_groups(settings)
    dashboard = render_dashboard(settings)
    files = {
        RULES: render(recording),
        ALERTS: render(alerting),
        DASHBOARD: dashboard,
        KUBERNETES / PROMETHEUS_RULE: render_prometheus_rule((*recording, *alerting), settings),
        KUBERNETES / DASHBOARD_CONFIGMAP: render_dashboard_configmap(dashboard, settings),
        KUBERNETES / "kustomization.yaml": render_kustomization(),
    }
    return {root / path: text for path, text in files.items()}


def _key_value(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write the tree (prometheus/, grafana/, kubernetes/) under DIR instead of "
        "dashboards/ (needs --runbook-url: these are files to deploy)",
    )
    parser.add_argument(
        "--runbook-url",
        metavar="URL",
        help="where your SREs read dashboards/runbook.md; each alert links URL#<alert> "
        f"(default: the placeholder {PLACEHOLDER_RUNBOOK_URL})",
    )
    parser.add_argument("--objective", type=float, help="SLO objective, e.g. 0.999")
    parser.add_argument(
        "--selector",
        metavar="MATCHERS",
        help="PromQL matchers added to every metric selector of the rules, with a job "
        'matcher (default: job=~".+"), e.g. \'job=~"auth-.*", namespace="auth"\'',
    )
    parser.add_argument(
        "--namespace", help="namespace of the Kubernetes manifests (default: monitoring)"
    )
    parser.add_argument(
        "--label",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a label of both manifests, added or replaced (repeatable), e.g. the "
        "release=... that kube-prometheus-stack's ruleSelector matches",
    )
    parser.add_argument(
        "--dashboard-label",
        type=_key_value,
        metavar="KEY=VALUE",
        help="the label the Grafana sidecar looks for (default: grafana_dashboard=1)",
    )
    args = parser.parse_args(argv)
    if args.out is not None and not args.runbook_url:
        parser.error(
            "--out writes files to deploy: pass --runbook-url with the URL where your SREs "
            "read dashboards/runbook.md (the default is a placeholder)"
        )
    changes: dict[str, object] = {}
    for name in ("objective", "runbook_url", "selector", "namespace", "dashboard_label"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    try:
        settings = replace(Settings(), **changes)  # type: ignore[arg-type]
        for key, value in args.label:
            settings = settings.with_label(key, value)
    except ValueError as error:
        parser.error(str(error))
    return args, settings


def main(argv: Sequence[str] | None = None) -> int:
    args, settings = _parse(argv)
    root = ROOT if args.out is None else args.out.resolve()
    stale = []
    for path, text in generated_files(settings, root).items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        verb = "differs from the generator" if args.check else "written"
        shown = path.relative_to(ROOT.parent) if root == ROOT else path
        print(f"{shown}: {verb}", file=sys.stderr)
    if root == ROOT and not args.check and settings != Settings():
        print(
            "note: the committed files now differ from the defaults (the tests compare them "
            "with the defaults); use --out DIR for a copy to deploy",
            file=sys.stderr,
        )
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
