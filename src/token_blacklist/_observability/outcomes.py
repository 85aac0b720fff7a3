"""What a finished call's span attributes and log fields are: pure functions of its result.

The telemetry point (:mod:`.telemetry`) sets them on the call's span (current while the
call ran, or made once the call is over) and counts the same figures in the metrics, so
the two ways of tracing a call cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from .._core.protocol import CheckOutcome
from ..results import BlacklistResult, FailureReason
from .round_trips import AttributeValue

__all__ = [
    "CACHED_CHECK_ATTRIBUTES",
    "LOG_LEVELS",
    "blacklist_attributes",
    "check_attributes",
    "outcome_of",
    "reason_fields",
]

LOG_LEVELS: Final = {
    "success": logging.DEBUG,
    "partial": logging.WARNING,
    "failure": logging.ERROR,
}

# A check answered from memory has no error: its attributes are constants.
CACHED_CHECK_ATTRIBUTES: Final[dict[bool, dict[str, AttributeValue]]] = {
    answer: {
        "token_blacklist.checked": 1,
        "token_blacklist.blacklisted": int(answer),
        "token_blacklist.check_errors": 0,
        "token_blacklist.check.cached": True,
    }
    for answer in (True, False)
}


def outcome_of(succeeded: int, failed: int) -> str:
    if failed == 0:
        return "success"
    return "failure" if succeeded == 0 else "partial"


def reason_fields(reasons: Mapping[FailureReason, int]) -> dict[str, int]:
    return {reason.value: count for reason, count in reasons.items()}


def blacklist_attributes(
    result: BlacklistResult,
) -> tuple[dict[str, AttributeValue], dict[FailureReason, int], str]:
    """The span attributes of a blacklist call, its failure counts by reason (most
    frequent first) and its outcome (``success``, ``partial``, ``failure``)."""
    failed = result.failed
    attributes: dict[str, AttributeValue] = {
        "token_blacklist.requested": result.requested,
        "token_blacklist.succeeded": result.succeeded,
        "token_blacklist.failed": failed,
        "token_blacklist.chunks": result.chunks,
        "token_blacklist.round_trips": result.round_trips,
    }
    if not failed:  # the common case: nothing to count by reason
        return attributes, {}, "success"
    reasons = result.reasons
    for reason, count in reasons.items():
        attributes[f"token_blacklist.failures.{reason.value}"] = count
    attributes["error.type"] = next(iter(reasons)).value
    return attributes, reasons, outcome_of(result.succeeded, failed)


def check_attributes(
    checked: int, outcome: CheckOutcome, policy: str, subject_revoked: bool | None
) -> tuple[dict[str, AttributeValue], dict[FailureReason, int]]:
    """The span attributes of a check and its error counts by reason."""
    errors = len(outcome.errors)
    attributes: dict[str, AttributeValue] = {
        "token_blacklist.checked": checked,
        "token_blacklist.blacklisted": len(outcome.blacklisted),
        "token_blacklist.check_errors": errors,
    }
    if subject_revoked is not None:
        attributes["token_blacklist.subject_revoked"] = subject_revoked
    counts: dict[FailureReason, int] = {}
    if errors:
        for reason in outcome.errors.values():
            counts[reason] = counts.get(reason, 0) + 1
        attributes["error.type"] = max(counts, key=counts.__getitem__).value
        attributes["token_blacklist.on_check_error"] = policy
    return attributes, counts
