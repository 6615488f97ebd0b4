"""The embedded SMTP sink (aiosmtpd): every email the platform sends lands in a SQLite
mailbox that a user can read at http://127.0.0.1:8000/dev/mail or with ``python -m embedded.mail``."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

from shared import config

_LOCK = threading.Lock()


class Mailbox:
    def __init__(self, path: Path):
        self.path = str(path)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS mail (id INTEGER PRIMARY KEY, received_at TEXT, mail_from TEXT,"
                " rcpt_to TEXT, subject TEXT, raw BLOB)"
            )
            if "delivery_id" not in {row[1] for row in db.execute("PRAGMA table_info(mail)")}:
                db.execute("ALTER TABLE mail ADD COLUMN delivery_id TEXT")  # a mailbox from before it was kept
            db.execute("CREATE INDEX IF NOT EXISTS ix_mail_delivery_id ON mail (delivery_id)")

    def _db(self):
        return sqlite3.connect(self.path, timeout=30)

    def store(self, mail_from: str, rcpt: list[str], raw: bytes) -> None:
        msg = message_from_bytes(raw, policy=policy.default)
        subject, delivery = str(msg.get("Subject", "")), msg.get("X-OCOP-Delivery")
        with _LOCK, self._db() as db:
            db.execute(
                "INSERT INTO mail (received_at, mail_from, rcpt_to, subject, raw, delivery_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(),
                    mail_from,
                    ", ".join(rcpt),
                    subject,
                    raw,
                    str(delivery) if delivery else None,
                ),
            )

    def has_delivery(self, delivery_id: str) -> bool:
        """Whether the message of this delivery (its X-OCOP-Delivery header) arrived: the sender asks
        after an attempt whose outcome it did not get to record."""
        with self._db() as db:
            return db.execute("SELECT 1 FROM mail WHERE delivery_id = ?", (delivery_id,)).fetchone() is not None

    def list(self, limit: int = 200) -> list[tuple]:
        with self._db() as db:
            return db.execute(
                "SELECT id, received_at, rcpt_to, subject FROM mail ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()

    def raw(self, mail_id: int) -> bytes | None:
        """The message exactly as the SMTP server received it."""
        with self._db() as db:
            row = db.execute("SELECT raw FROM mail WHERE id = ?", (mail_id,)).fetchone()
        return bytes(row[0]) if row else None

    def get(self, mail_id: int):
        raw = self.raw(mail_id)
        return message_from_bytes(raw, policy=policy.default) if raw is not None else None


class _Handler:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox
        self.stored = 0
        # Fault injection for tests/faults: the process dies right after the Nth message is stored,
        # before the sink answers: accepted by the mail server, its outcome never recorded.
        self.kill_after = config.process().kill_after_mails

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.store(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        self.stored += 1
        if self.kill_after and self.stored >= self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return "250 Message accepted for delivery"


def start(mailbox: Mailbox, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    # aiosmtpd logs every sender and recipient address at INFO: no email addresses in our logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = Controller(_Handler(mailbox), hostname=host, port=port)
    controller.start()
    return controller
