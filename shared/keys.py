"""Keys per purpose, derived from the one master secret (``OCOP_SECRET_KEY``).

A leak of one kind of credential must not forge the others: answer links, calendar links and
Flask's own cookie signing ("session") each have their own key, derived
from the master secret with HKDF-SHA256 (RFC 5869, ``cryptography``'s implementation). A key
signed and checked by one service only is also bound to that service (its name is in the HKDF
``info``). An explicit variable per purpose overrides the master secret for that purpose (the key
is still derived from it, so the purposes stay apart even if an operator reuses a value): rotating
``OCOP_CALENDAR_SECRET`` revokes every calendar link and nothing else. API tokens and console
sessions are not among them: the registry signs them with its Ed25519 private key (shared/signing.py).

Derived keys are cached per (material, purpose). The overrides are Settings.key_overrides, read when
a process starts; callers pass ``settings.key_material(purpose)``: the override, else the master.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# purpose -> (the variable that may override the master secret for it, the service it is bound to)
PURPOSES: dict[str, tuple[str, str]] = {
    "answer-link": ("OCOP_ANSWER_LINK_SECRET", "notifications"),
    "calendar-link": ("OCOP_CALENDAR_SECRET", "events"),
    "session": ("OCOP_SESSION_SECRET", "platform"),  # reserved: Flask's SECRET_KEY, sessions later
}
_SALT = b"ocop-keys-v1"


def key(purpose: str, material: str) -> bytes:
    """The 256-bit key of ``purpose``, derived from ``material`` (``settings.key_material(purpose)``)."""
    return _derive(material, purpose)


@lru_cache(maxsize=64)
def _derive(material: str, purpose: str) -> bytes:
    if not material:
        raise ValueError("no secret to derive keys from (set OCOP_SECRET_KEY)")
    _, service = PURPOSES[purpose]
    info = f"ocop/{purpose}/{service}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(material.encode())
