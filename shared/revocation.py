"""Revoked API tokens: a deny list every service checks cheaply.

The registry (the issuer to be) records a revocation (``POST /tokens/revocations``, admin only, or
``python -m services.registry.manage revoke-token JTI``) in its ``revoked_tokens`` table and
publishes ``registry.token.revoked`` through its outbox; the events and notifications services
copy it into their own ``revoked_tokens`` table. Verifying a token looks its ``jti`` up in an
in-process set that is reloaded from the local table at most every ``REFRESH_SECONDS``: one small
query a second per process, whatever the traffic. A row is kept until its token would have expired
anyway, then pruned.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from .db import utcnow

log = logging.getLogger("ocop.revocation")
EVENT_TYPE = "registry.token.revoked"
REFRESH_SECONDS = 1.0
TABLE = "revoked_tokens"


def define_model(Base):
    """The ``revoked_tokens`` model bound to one service's metadata."""

    class RevokedToken(Base):
        __tablename__ = TABLE
        jti: Mapped[str] = mapped_column(String(64), primary_key=True)
        expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
        revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
        reason: Mapped[str] = mapped_column(String(300))

    return RevokedToken


def record(session, model, jti: str, expires_at: datetime, reason: str) -> bool:
    """Add a revocation (idempotent); prunes the ones past their token's expiry. True if new."""
    session.execute(delete(model).where(model.expires_at < datetime.now(UTC) - timedelta(minutes=5)))
    if session.get(model, jti) is not None:
        return False
    session.add(model(jti=jti, expires_at=expires_at, reason=reason))
    session.flush()
    return True


def handler(model):
    """Consumer handler of ``registry.token.revoked`` for a service's own copy."""

    def on_token_revoked(session, envelope, data):
        record(session, model, data["jti"], data["expires_at"], data["reason"])

    return on_token_revoked


class DenyList:
    """The jtis revoked and not yet expired, reloaded from the table at most every REFRESH_SECONDS."""

    def __init__(self, session_factory, table, refresh_seconds: float = REFRESH_SECONDS):
        self.session_factory = session_factory
        self.table = table
        self.refresh_seconds = refresh_seconds
        self._ids: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, jti: str) -> bool:
        if time.monotonic() - self._loaded_at >= self.refresh_seconds:
            self._reload()
        return jti in self._ids

    def _reload(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is reloading: use the set in hand
        try:
            now = datetime.now(UTC)
            with self.session_factory() as s:
                ids = s.execute(select(self.table.c.jti).where(self.table.c.expires_at > now)).scalars().all()
            self._ids = frozenset(ids)
            self._loaded_at = time.monotonic()
        except Exception:  # noqa: BLE001 - database down: keep the set in hand, try again next time
            log.warning("revoked tokens unavailable; using the list in hand")
            self._loaded_at = time.monotonic()
        finally:
            self._lock.release()


def deny_list(app) -> DenyList | None:
    """The app's deny list (None for a service without the table)."""
    found = app.extensions.get("ocop_deny_list")
    if found is None:
        runtime = app.extensions["ocop_runtime"]
        table = runtime.outbox.metadata.tables.get(TABLE)
        if table is None:
            return None
        found = app.extensions.setdefault("ocop_deny_list", DenyList(runtime.session_factory, table))
    return found
