"""Fixtures of tests/cluster; the cluster fixtures are global (see the root conftest)."""

from cluster.sentinel_fixtures import sentinel_set

__all__ = ["sentinel_set"]
