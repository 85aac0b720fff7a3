"""Fixtures of the web tests (the shared ones come from :mod:`web.fixtures`)."""

from __future__ import annotations

from typing import Any

import pytest

from .app_harness import example
from .fixtures import redis_spans, web_capture  # noqa: F401 (fixtures)


@pytest.fixture
def tokens() -> Any:
    return example.Tokens()
