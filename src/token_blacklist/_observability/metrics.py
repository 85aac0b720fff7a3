"""The Prometheus metrics of the module, registered once per registry.

The names are a public contract: dashboards, recording rules and alerts in ``dashboards/``
query them. Label values come from closed enums (never a token, hash, user or trace id).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, values

from ..results import FailureReason

__all__ = [
    "CHECK_RESULTS",
    "DURATION_BUCKETS",
    "OPERATIONS",
    "OPERATION_OUTCOMES",
    "Metrics",
    "exemplars_supported",
    "incrementer",
    "metrics_for",
]

OPERATIONS = ("blacklist", "check", "revoke_all")
OPERATION_OUTCOMES = ("success", "partial", "failure", "rejected")
CHECK_RESULTS = ("blacklisted", "not_blacklisted", "error")
DURATION_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True, slots=True)
class Metrics:
    """The metric families of one registry, with every label combination pre-bound."""

    tokens: Counter
    token_failures: Counter
    operations: Counter
    duration: Histogram
    batch_size: Histogram
    checks: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> Metrics:
        tokens = Counter(
            "token_blacklist_tokens",
            "Tokens a blacklist call was asked to revoke, by outcome.",
            ["outcome"],
            registry=registry,
        )
        token_failures = Counter(
            "token_blacklist_token_failures",
            "Tokens not confirmed as blacklisted, by failure reason.",
            ["reason"],
            registry=registry,
        )
        operations = Counter(
            "token_blacklist_operations",
            "Library calls by operation and outcome.",
            ["operation", "outcome"],
            registry=registry,
        )
        duration = Histogram(
            "token_blacklist_operation_duration_seconds",
            "Wall time of a library call, retries included.",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        batch_size = Histogram(
            "token_blacklist_batch_size",
            "Distinct tokens per blacklist call.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        checks = Counter(
            "token_blacklist_checks",
            "Token hashes checked against the blacklist, by result.",
            ["result"],
            registry=registry,
        )
        # Pre-create every child: series exist at zero from the start (rate() and absent()
        # behave), and later lookups hit a warm cache.
        for outcome in ("succeeded", "failed"):
            tokens.labels(outcome)
        for reason in FailureReason:
            token_failures.labels(reason.value)
        for operation in OPERATIONS:
            duration.labels(operation)
            for op_outcome in OPERATION_OUTCOMES:
                operations.labels(operation, op_outcome)
        for result in CHECK_RESULTS:
            checks.labels(result)
        return cls(tokens, token_failures, operations, duration, batch_size, checks)


_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry | None) -> Metrics:
    """The module's metrics in ``registry`` (default: the global one), registered once.

    Several clients (a sync and an async one, say) can share a registry: they share the
    same metric objects instead of failing with a duplicated-timeseries error.
    """
    target = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(target)
        if found is None:
            found = Metrics.register(target)
            _by_registry[target] = found
        return found


def exemplars_supported() -> bool:
    """False in prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set when
    it was imported): its file-backed values drop exemplars without a word (``set_exemplar``
    is a no-op in prometheus_client 0.26), so the library does not build them there."""
    return values.ValueClass is values.MutexValue


def incrementer(child: Counter) -> Callable[[float], Any]:
    """``child.inc`` for the hottest path (a check answered from memory): the value's own
    ``inc``, the increment prometheus_client's ``Counter.inc`` makes (in every value class,
    multiprocess files included), without its per-call checks, which hold once for a
    pre-bound child and a positive amount: a third of a microsecond an increment, a tenth
    of a cached hit. Anything but a plain prometheus_client ``Counter`` child, or a value
    without ``inc``, gets ``child.inc`` itself."""
    value = getattr(child, "_value", None)
    inc = getattr(value, "inc", None)
    observable = child._is_observable()  # type: ignore[no-untyped-call,unused-ignore]
    if type(child) is Counter and observable and callable(inc):
        return inc  # type: ignore[no-any-return]
    return child.inc
