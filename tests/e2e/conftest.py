"""Fixtures of the end-to-end tier: processes started as users start them (see deployment.py)."""

from e2e.deployment import procs, vhost_url  # noqa: F401
