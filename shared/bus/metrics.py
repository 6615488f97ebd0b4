"""Prometheus metrics of the bus (per process)."""

from prometheus_client import Counter

HANDLED = Counter("ocop_messages_handled_total", "Messages handled and committed", ["consumer"])
DUPLICATES = Counter("ocop_messages_duplicate_total", "Duplicate deliveries acknowledged and skipped", ["consumer"])
FAILED = Counter("ocop_messages_failed_total", "Handler attempts that failed", ["consumer", "reason"])
DEAD_LETTERED = Counter("ocop_messages_dead_lettered_total", "Messages sent to a dead-letter queue", ["queue"])
PARKED = Counter("ocop_messages_parked_total", "Messages parked after exhausting retries", ["queue"])
OUTBOX_PUBLISHED = Counter("ocop_outbox_published_total", "Outbox rows published and confirmed", ["service"])
UNTRUSTED = Counter(
    "ocop_messages_untrusted_total",
    "Messages dead-lettered because the broker did not vouch for their sender, or their source does not fit their type",
    ["queue"],
)
POISON = Counter(
    "ocop_messages_poison_total",
    "Messages dead-lettered after too many deliveries without an acknowledgement",
    ["queue"],
)
