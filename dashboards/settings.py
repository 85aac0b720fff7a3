"""The knobs of the mixin, in one place, and the SLO arithmetic derived from them.

Change a default here (or pass ``--objective``/``--runbook-url`` to ``python -m
dashboards.generate``) and regenerate: the rules, the alerts and the thresholds drawn on the
dashboard change together, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BURN_WINDOWS", "RATIO_WINDOWS", "BurnWindow", "Settings"]

DEFAULT_RUNBOOK_URL = (
    "https://github.com/token-blacklist/token-blacklist/blob/main/dashboards/runbook.md"
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
    runbook_url: str = DEFAULT_RUNBOOK_URL
    dashboard_uid: str = "token-blacklist"

    def __post_init__(self) -> None:
        if not 0.9 <= self.objective < 1:
            raise ValueError("objective must be in [0.9, 1), e.g. 0.999")
        for name in ("fast_failure_ratio", "check_error_ratio", "revoke_all_failure_ratio"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.blacklist_p99_seconds <= 0:
            raise ValueError("blacklist_p99_seconds must be positive")

    @property
    def error_budget(self) -> float:
        """The share of tokens allowed to fail: ``1 - objective``."""
        return round(1 - self.objective, 10)

    def burn_threshold(self, window: BurnWindow) -> float:
        """The failure ratio at which ``window`` burns the budget ``factor`` times too fast."""
        return round(window.factor * self.error_budget, 10)

    def runbook(self, alert: str) -> str:
        """The runbook section of ``alert`` (GitHub anchors are the lower-cased heading)."""
        return f"{self.runbook_url}#{alert.lower()}"
