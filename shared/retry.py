"""Retry backoff, one rule for every retry of the platform: after ``n`` failures wait ``base``,
``2·base``, ``4·base`` … up to ``cap`` (tenacity's ``wait_exponential``, no jitter).

Used by a delivery's next attempt (notifications), a handler's retry and the consumer's reconnect
(shared/bus/consumer.py) and the outbox relay's retry (shared/bus/outbox.py)."""

from __future__ import annotations

from tenacity import RetryCallState, wait_exponential


def backoff_seconds(failures: int, base: float, cap: float) -> float:
    """The wait after ``failures`` failed attempts (0 or 1: ``base``), never more than ``cap``."""
    state = RetryCallState(None, None, (), {})
    state.attempt_number = max(int(failures), 1)
    return wait_exponential(multiplier=base, max=cap)(state)


class Backoff:
    """The waits of a loop that retries until it succeeds: ``next()`` is the wait after one more
    failure (``base``, then twice as long each time up to ``cap``), ``reset()`` after a success."""

    def __init__(self, base: float, cap: float):
        self.base = base
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return backoff_seconds(self.failures, self.base, self.cap)

    def reset(self) -> None:
        self.failures = 0
