"""The running totals of a bulk revoke, and how they are shown at the end."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from ..results import BlacklistResult, FailureReason

__all__ = ["RevokeSummary"]


@dataclass
class RevokeSummary:
    """Totals over every batch. ``requested`` counts distinct hashes per batch."""

    entries: int = 0
    """Usable lines read (a hash each)."""
    requested: int = 0
    succeeded: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    not_sent: int = 0
    """Tokens reported failed without being sent, once Redis was plainly down."""
    unconfirmed: int = 0
    """Tokens read but not confirmed when the run was interrupted (sent or not)."""
    input_error: str | None = None
    interrupted: bool = False
    resume_from: int | None = None
    """After an interruption: the first input line not read."""
    dry_run: bool = False
    duration: float = 0.0

    @property
    def failed(self) -> int:
        if self.dry_run:
            return 0  # validated, not sent: nothing failed
        return self.requested - self.succeeded

    @property
    def duplicates(self) -> int:
        """Lines merged with an earlier line of the same batch (same hash)."""
        return self.entries - self.requested - self.unconfirmed

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

    def add_checked(self, entries: int, distinct: int) -> None:
        """``--dry-run``: a validated batch, not sent."""
        self.batches += 1
        self.entries += entries
        self.requested += distinct

    def add_unconfirmed(self, entries: int) -> None:
        self.entries += entries
        self.unconfirmed += entries

    def as_dict(self, exit_code: int, failed_out: str | None) -> dict[str, Any]:
        rate = self.succeeded / self.duration if self.duration > 0 else 0.0
        return {
            "entries": self.entries,
            "requested": self.requested,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "reasons": dict(self.reasons.most_common()),
            "batches": self.batches,
            "duplicates": self.duplicates,
            "not_sent": self.not_sent,
            "unconfirmed": self.unconfirmed,
            "input_error": self.input_error,
            "interrupted": self.interrupted,
            "resume_from": self.resume_from,
            "dry_run": self.dry_run,
            "failed_out": failed_out,
            "duration_seconds": round(self.duration, 3),
            "tokens_per_second": round(rate, 1),
            "exit_code": exit_code,
        }

    def write_json(self, stream: IO[str], exit_code: int, failed_out: str | None) -> None:
        stream.write(json.dumps(self.as_dict(exit_code, failed_out), sort_keys=True) + "\n")

    def lines(self, failed_out: str | None) -> list[str]:
        """The summary for people: plain lines, one fact each (no table to wrap)."""
        if self.dry_run:
            out = [
                f"dry run: {self.requested:,} tokens would be revoked "
                f"({self.entries:,} lines); nothing was sent"
            ]
        else:
            rate = self.succeeded / self.duration if self.duration > 0 else 0.0
            out = [
                f"revoked: {self.succeeded:,} tokens in {self.duration:.1f} s "
                f"({rate:,.0f} tokens/s)",
                f"failed: {self.failed:,}",
            ]
            out += [f"  {reason}: {count:,}" for reason, count in self.reasons.most_common()]
            if self.not_sent:
                out.append(f"  of which not sent (Redis down): {self.not_sent:,}")
            if self.unconfirmed:
                out.append(f"not confirmed (interrupted): {self.unconfirmed:,}")
        if self.duplicates:
            out.append(f"duplicate lines merged: {self.duplicates:,} (same hash twice in a batch)")
        if (self.failed or self.unconfirmed) and failed_out:
            out.append(f"hashes not confirmed written to {failed_out}; re-run on that file")
        return out

    def write_text(self, stream: IO[str], failed_out: str | None) -> None:
        stream.write("token-blacklist revoke: summary\n")
        for line in self.lines(failed_out):
            stream.write(line + "\n")
        stream.flush()
