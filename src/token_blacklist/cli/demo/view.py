"""What the demo counts, and how it shows it: a live rich view or plain status lines."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ...results import BlacklistResult

__all__ = ["DemoStats"]

WINDOW_SECONDS = 10.0


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class DemoStats:
    """Totals since the start, plus a sliding window for the "now" figures."""

    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    requested: int = 0
    revoked: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    checks_blocked: int = 0
    replays_accepted: int = 0
    """Replayed access tokens the check let through: revoked tokens still valid."""
    check_errors: int = 0
    active_fault: str | None = None
    next_fault_in: float = 0.0
    urls: dict[str, str] = field(default_factory=dict)
    _window: deque[tuple[float, int, int, float]] = field(default_factory=deque)

    def record(self, result: BlacklistResult, seconds: float) -> None:
        now = time.monotonic()
        self.requests += 1
        self.requested += result.requested
        self.revoked += result.succeeded
        self.failed += result.failed
        for reason, count in result.reasons.items():
            self.reasons[reason.value] += count
        self._window.append((now, result.requested, result.failed, seconds))
        while self._window and self._window[0][0] < now - WINDOW_SECONDS:
            self._window.popleft()

    def window(self) -> tuple[float, float, float]:
        """Failure ratio, p50 and p99 latency (seconds) over the last few seconds."""
        requested = sum(item[1] for item in self._window)
        failed = sum(item[2] for item in self._window)
        latencies = [item[3] for item in self._window]
        ratio = failed / requested if requested else 0.0
        return ratio, _percentile(latencies, 0.5), _percentile(latencies, 0.99)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(time.monotonic() - self.started, 3),
            "requests": self.requests,
            "tokens_requested": self.requested,
            "tokens_revoked": self.revoked,
            "tokens_failed": self.failed,
            "reasons": dict(self.reasons.most_common()),
            "checks_blocked": self.checks_blocked,
            "replays_accepted": self.replays_accepted,
            "check_errors": self.check_errors,
        }

    def status_line(self) -> str:
        ratio, p50, p99 = self.window()
        fault = self.active_fault or "none"
        return (
            f"status: {self.requests} requests, {self.revoked} revoked, {self.failed} failed "
            f"({ratio:.0%} in the last {WINDOW_SECONDS:.0f} s), "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (last {WINDOW_SECONDS:.0f} s), "
            f"replayed tokens accepted: {self.replays_accepted}, fault: {fault}"
        )

    def render(self) -> Group:
        ratio, p50, p99 = self.window()
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold")
        table.add_column()
        elapsed = time.monotonic() - self.started
        table.add_row("running", f"{elapsed:,.0f} s")
        table.add_row("logout requests", f"{self.requests:,}")
        table.add_row("tokens revoked", f"[green]{self.revoked:,}")
        table.add_row("tokens failed", f"[red]{self.failed:,}" if self.failed else "0")
        style = "red" if ratio > 0 else "green"
        table.add_row(f"failure ratio ({WINDOW_SECONDS:.0f} s)", f"[{style}]{ratio:.1%}")
        table.add_row(
            f"latency p50 / p99 ({WINDOW_SECONDS:.0f} s)",
            f"{p50 * 1000:.1f} ms / {p99 * 1000:.1f} ms",
        )
        accepted = self.replays_accepted
        table.add_row(
            "replayed tokens accepted", f"[bold red]{accepted:,}" if accepted else "[green]0"
        )
        table.add_row(
            "checks: blocked / errors", f"{self.checks_blocked:,} / {self.check_errors:,}"
        )
        reasons = ", ".join(f"{r}: {c:,}" for r, c in self.reasons.most_common()) or "none"
        table.add_row("failures by reason", reasons)
        if self.active_fault:
            fault = Text(f"{self.active_fault} (ends in {self.next_fault_in:.0f} s)", "bold red")
        else:
            upcoming = (
                "no more"
                if self.next_fault_in == float("inf")
                else (f"next in {self.next_fault_in:.0f} s")
            )
            fault = Text(f"none ({upcoming})", "green")
        table.add_row("active fault", fault)
        links = Table.grid(padding=(0, 2))
        for name, url in self.urls.items():
            links.add_row(name, url)
        return Group(Panel(table, title="token-blacklist demo", subtitle="Ctrl-C to stop"), links)
