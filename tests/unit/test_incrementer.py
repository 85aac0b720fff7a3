"""The cached hit's counter increments (``metrics.incrementer``): the same effect as
``Counter.inc``, seen through the registry, and the public call for anything else."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from token_blacklist._observability.metrics import incrementer


def test_an_incrementer_counts_what_counter_inc_counts() -> None:
    registry = CollectorRegistry()
    counter = Counter("things", "t", ["kind"], registry=registry)
    child = counter.labels("a")
    inc = incrementer(child)
    assert inc is not child.inc  # the value's own increment
    inc(1)
    inc(1)
    child.inc()
    assert registry.get_sample_value("things_total", {"kind": "a"}) == 3
    counter.labels("a").reset()
    inc(1)  # still the child's value after a reset
    assert registry.get_sample_value("things_total", {"kind": "a"}) == 1


def test_anything_else_gets_its_own_inc() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("level", "l", registry=registry)
    assert incrementer(gauge) == gauge.inc  # type: ignore[arg-type]

    class Counted(Counter):
        pass

    child = Counted("sub", "s", registry=registry)
    assert incrementer(child) == child.inc
    parent = Counter("parent", "p", ["kind"], registry=registry)
    assert incrementer(parent) == parent.inc  # no label values: the public call refuses
