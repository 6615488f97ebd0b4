"""Fixtures shared by every tier (helpers live in support.py)."""

from __future__ import annotations

import pytest

from support import real_mode


@pytest.fixture(scope="session")
def mode() -> str:
    return "real" if real_mode() else "embedded"
