"""What ``doctor`` reports: a :class:`Finding` per check, with its :class:`Severity`
(here so that the probes of :mod:`._acl_probes` and :mod:`.doctor` share them)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Finding", "Severity"]


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    """Revocations fail or can be lost now: fix before relying on the blacklist."""
    WARNING = "warning"
    """Revocations can be lost in a foreseeable event (restart, memory growth)."""
    INFO = "info"
    """Worth knowing; nothing to fix necessarily."""
    OK = "ok"
    """The check passed."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of one check: ``check`` is a stable identifier, ``node`` a host:port."""

    check: str
    severity: Severity
    what: str
    fix: str = ""
    node: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "what": self.what,
            "fix": self.fix,
            "node": self.node,
        }
