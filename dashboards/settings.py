"""The knobs of the mixin, in one place, and the SLO arithmetic derived from them.

Change a default here (or pass ``--objective``/``--runbook-url``/``--selector``/``--namespace``/
``--label`` to ``python -m dashboards.generate``) and regenerate: the rules, the alerts, the
thresholds drawn on the dashboard and the Kubernetes manifests change together, so they cannot
disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = [
    "BURN_WINDOWS",
    "PLACEHOLDER_RUNBOOK_URL",
    "RATIO_WINDOWS",
    "BurnWindow",
    "Settings",
    "check_kubernetes_label",
    "parse_matchers",
]

# The committed files carry this placeholder: ".invalid" is a top-level domain reserved never
# to resolve (RFC 2606), so an alert deployed without --runbook-url shows a link that is
# obviously not a page, instead of one that looks real and 404s.
PLACEHOLDER_RUNBOOK_URL = "https://runbook-url-not-set.example.invalid/token-blacklist/runbook.md"

# One PromQL label matcher: name, operator, double-quoted value.
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
# Kubernetes: a namespace is a DNS-1123 label; a label key an optional DNS subdomain prefix
# and a name; a label value at most 63 characters of the same alphabet as a name.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def parse_matchers(text: str) -> list[tuple[str, str, str]]:
    """``(label, operator, value)`` of comma-separated PromQL matchers such as
    ``job=~"auth-.*", namespace="auth"``; ``ValueError`` on anything else."""
    found: list[tuple[str, str, str]] = []
    for part in _split_matchers(text):
        match = _MATCHER.fullmatch(part)
        if match is None:
            raise ValueError(f"not a PromQL label matcher: {part.strip()!r}")
        found.append((match[1], match[2], match[3]))
    return found


def _split_matchers(text: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    parts.append(current)
    return parts


def check_kubernetes_label(key: str, value: str) -> None:
    """``ValueError`` unless ``key: value`` is a valid Kubernetes label."""
    prefix, _, name = key.rpartition("/")
    if prefix and not _DNS_SUBDOMAIN.fullmatch(prefix):
        raise ValueError(f"label key {key!r}: the prefix must be a DNS subdomain")
    if not _LABEL_NAME.fullmatch(name):
        raise ValueError(
            f"label key {key!r}: at most 63 letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit"
        )
    if not _LABEL_VALUE.fullmatch(value):
        raise ValueError(
            f"label value {value!r} (of {key}): at most 63 letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit"
        )


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One row of the SRE Workbook's multi-window, multi-burn-rate table (30-day SLO)."""

    severity: str
    long: str
    short: str
    factor: float
    hold: str
    """``for:`` of the alert: short for pages, longer for tickets, to ride out blips."""


# Budget share spent when the alert fires: 2% (1h), 5% (6h), 10% (1d), 10% (3d) of 30 days.
BURN_WINDOWS = (
    BurnWindow("critical", "1h", "5m", 14.4, "2m"),
    BurnWindow("critical", "6h", "30m", 6.0, "2m"),
    BurnWindow("warning", "1d", "2h", 3.0, "15m"),
    BurnWindow("warning", "3d", "6h", 1.0, "15m"),
)
RATIO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")


@dataclass(frozen=True, slots=True)
class Settings:
    """What an SRE may tune. Defaults are what the committed files are generated with."""

    objective: float = 0.999
    """Share of tokens that must be revoked over 30 days (the blacklisting SLO)."""
    fast_failure_ratio: float = 0.05
    """Failure ratio over 5m that pages even when traffic is too low for the SLO alerts."""
    check_error_ratio: float = 0.01
    """Share of checks answered by the ``on_check_error`` policy instead of Redis."""
    revoke_all_failure_ratio: float = 0.1
    """Share of ``revoke_all`` calls ("log out everywhere") failed over 15m."""
    blacklist_p99_seconds: float = 0.5
    """p99 wall time of ``blacklist_tokens`` (a logout waits for it)."""
    check_cache_bypass_ratio: float = 0.5
    """Share of cached checks sent to Redis because the invalidation link was not fresh."""
    check_cache_heartbeat_seconds: float = 0.05
    """p99 of the check cache's heartbeat round trip: half of the default ``max_staleness``
    (0.1 s); near the bound, answers fall back to Redis."""
    runbook_url: str = PLACEHOLDER_RUNBOOK_URL
    """Where your SREs read ``dashboards/runbook.md``: each alert links ``URL#<alert>``.
    The default is a placeholder: set it (``--runbook-url``) before deploying."""
    dashboard_uid: str = "token-blacklist"
    selector: str = 'job=~".+"'
    """Matchers added to every metric selector of the rules (``--selector``), e.g.
    ``job=~"auth-.*"`` or ``job!="", namespace="auth"``; must include a ``job`` matcher."""
    namespace: str = "monitoring"
    """Namespace of the Kubernetes manifests (``--namespace``)."""
    labels: tuple[tuple[str, str], ...] = (
        ("app.kubernetes.io/name", "token-blacklist"),
        ("app.kubernetes.io/part-of", "token-blacklist"),
    )
    """Labels of both manifests (``--label KEY=VALUE`` adds or replaces one), e.g. the
    ``release`` label kube-prometheus-stack's ``ruleSelector`` matches."""
    dashboard_label: tuple[str, str] = ("grafana_dashboard", "1")
    """The label Grafana's sidecar looks for on dashboard ConfigMaps (``--dashboard-label``)."""

    def __post_init__(self) -> None:
        if not 0.9 <= self.objective < 1:
            raise ValueError("objective must be in [0.9, 1), e.g. 0.999")
        for name in ("fast_failure_ratio", "check_error_ratio", "revoke_all_failure_ratio"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.blacklist_p99_seconds <= 0 or self.check_cache_heartbeat_seconds <= 0:
            raise ValueError("blacklist_p99_seconds and check_cache_heartbeat_seconds > 0")
        if not 0 < self.check_cache_bypass_ratio < 1:
            raise ValueError("check_cache_bypass_ratio must be between 0 and 1")
        if not re.fullmatch(r"https?://[^\s#\"]+", self.runbook_url):
            raise ValueError(
                "runbook_url must be an http(s) URL without '#' (the alert's anchor is added)"
            )
        if "job" not in {label for label, _, _ in parse_matchers(self.selector)}:
            raise ValueError('selector must include a job matcher, e.g. job=~".+"')
        if not _DNS_LABEL.fullmatch(self.namespace):
            raise ValueError(
                f"namespace {self.namespace!r}: at most 63 lower-case letters, digits and "
                "'-', starting and ending with a letter or digit"
            )
        for key, value in (*self.labels, self.dashboard_label):
            check_kubernetes_label(key, value)

    @property
    def error_budget(self) -> float:
        """The share of tokens allowed to fail: ``1 - objective``."""
        return round(1 - self.objective, 10)

    def burn_threshold(self, window: BurnWindow) -> float:
        """The failure ratio at which ``window`` burns the budget ``factor`` times too fast."""
        return round(window.factor * self.error_budget, 10)

    @property
    def runbook_is_placeholder(self) -> bool:
        return self.runbook_url == PLACEHOLDER_RUNBOOK_URL

    def with_label(self, key: str, value: str) -> Settings:
        """These settings with the manifests' label ``key`` added or replaced."""
        labels = dict(self.labels)
        labels[key] = value
        return replace(self, labels=tuple(labels.items()))

    def runbook(self, alert: str) -> str:
        """The runbook section of ``alert`` (GitHub anchors are the lower-cased heading)."""
        return f"{self.runbook_url}#{alert.lower()}"
