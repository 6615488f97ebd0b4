"""Fixtures shared by every tier (helpers live in support.py)."""

from __future__ import annotations

import pytest
from support import real_mode


@pytest.fixture(scope="session")
def mode() -> str:
    return "real" if real_mode() else "embedded"


def pytest_configure(config):
    import os

    if os.environ.get("OCOP_REQUIRE_REAL") and not real_mode():
        raise pytest.UsageError(
            "OCOP_REQUIRE_REAL is set but OCOP_BROKER_URL/OCOP_TEST_PG_URL do not select "
            "the real RabbitMQ and PostgreSQL"
        )


def pytest_collection_modifyitems(config, items):
    """real_only tests skip on the embedded default, and fail (not skip) when real mode is required."""
    import os

    if real_mode():
        return
    if os.environ.get("OCOP_REQUIRE_REAL"):
        return
    skip = pytest.mark.skip(reason="needs RabbitMQ and PostgreSQL (set OCOP_BROKER_URL and OCOP_TEST_PG_URL)")
    for item in items:
        if "real_only" in item.keywords:
            item.add_marker(skip)
