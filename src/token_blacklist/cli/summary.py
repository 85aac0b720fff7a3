"""The running totals of a bulk revoke, and how they are shown at the end."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from ..results import BlacklistResult, FailureReason

__all__ = ["RevokeSummary"]


@dataclass
class RevokeSummary:
    """Totals over every batch. ``requested`` counts distinct hashes per batch."""

    entries: int = 0
    requested: int = 0
    succeeded: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    not_sent: int = 0
    """Tokens reported failed without being sent, once Redis was plainly down."""
    input_error: str | None = None
    interrupted: bool = False

    @property
    def failed(self) -> int:
        return self.requested - self.succeeded

    def add(self, entries: int, result: BlacklistResult) -> None:
        self.batches += 1
        self.entries += entries
        self.requested += result.requested
        self.succeeded += result.succeeded
        for reason, count in result.reasons.items():
            self.reasons[reason.value] += count

    def add_unsent(self, entries: int, distinct: int, reason: FailureReason) -> None:
        self.entries += entries
        self.requested += distinct
        self.not_sent += distinct
        self.reasons[reason.value] += distinct

    def as_dict(self, exit_code: int, failed_out: str | None) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "requested": self.requested,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "reasons": dict(self.reasons.most_common()),
            "batches": self.batches,
            "not_sent": self.not_sent,
            "input_error": self.input_error,
            "interrupted": self.interrupted,
            "failed_out": failed_out,
            "exit_code": exit_code,
        }

    def write_json(self, stream: IO[str], exit_code: int, failed_out: str | None) -> None:
        stream.write(json.dumps(self.as_dict(exit_code, failed_out), sort_keys=True) + "\n")

    def write_table(self, stream: IO[str], failed_out: str | None) -> None:
        console = Console(file=stream, highlight=False)
        console.print("token-blacklist revoke: summary", style="bold", markup=False)
        table = Table(show_header=True)
        table.add_column("outcome")
        table.add_column("tokens", justify="right")
        table.add_row("revoked", f"{self.succeeded:,}")
        table.add_row("failed", f"{self.failed:,}", style="red" if self.failed else None)
        for reason, count in self.reasons.most_common():
            table.add_row(f"  {reason}", f"{count:,}")
        if self.not_sent:
            table.add_row("  of which not sent (Redis down)", f"{self.not_sent:,}")
        console.print(table)
        if self.failed and failed_out:
            console.print(f"failed hashes written to {failed_out}; re-run on that file")
        if self.input_error:
            console.print(f"[red]stopped at unusable input: {self.input_error}")
        if self.interrupted:
            console.print("[yellow]interrupted: lines after the last batch were not sent")
