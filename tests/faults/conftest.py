"""Fixtures of the fault tier: the same process harness as the end-to-end tier."""

from e2e.deployment import procs, vhost_url  # noqa: F401
