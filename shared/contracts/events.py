"""Event schemas, one class per (type, version), by the service that publishes them:
registry_events.py, events_events.py, notifications.py, tokens.py; the shared code lists and the
base of event data are in vocabulary.py. This module re-exports them for the modules that import
them from here. Data only; the envelope is in __init__."""

from __future__ import annotations

from .events_events import *  # noqa: F403
from .events_events import __all__ as _events_all
from .notifications import DeliverySentV1
from .registry_events import *  # noqa: F403
from .registry_events import __all__ as _registry_all
from .vocabulary import (
    _FAIR_KINDS_ON_WIRE,
    FAIR_KINDS,
    FAIR_STATUSES,
    INVITATION_STATUSES,
    LANGS,
    PRODUCER_KINDS,
    REFUSAL_CAUSES,
    REGIONS,
    WITHDRAWAL_CAUSES,
    _Data,
)

__all__ = [
    *_events_all,
    *_registry_all,
    "DeliverySentV1",
    "FAIR_KINDS",
    "FAIR_STATUSES",
    "INVITATION_STATUSES",
    "LANGS",
    "PRODUCER_KINDS",
    "REFUSAL_CAUSES",
    "REGIONS",
    "WITHDRAWAL_CAUSES",
    "_FAIR_KINDS_ON_WIRE",
    "_Data",
]
