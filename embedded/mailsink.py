"""The embedded SMTP sink (aiosmtpd): every email the platform sends lands in a SQLite
mailbox that a user can read at http://127.0.0.1:8000/mail or with ``python -m embedded.mail``."""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

_LOCK = threading.Lock()


class Mailbox:
    def __init__(self, path: Path):
        self.path = str(path)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS mail (id INTEGER PRIMARY KEY, received_at TEXT, mail_from TEXT,"
                       " rcpt_to TEXT, subject TEXT, raw BLOB)")

    def _db(self):
        return sqlite3.connect(self.path, timeout=30)

    def store(self, mail_from: str, rcpt: list[str], raw: bytes) -> None:
        subject = str(message_from_bytes(raw, policy=policy.default).get("Subject", ""))
        with _LOCK, self._db() as db:
            db.execute("INSERT INTO mail (received_at, mail_from, rcpt_to, subject, raw) VALUES (?, ?, ?, ?, ?)",
                       (datetime.now(UTC).isoformat(), mail_from, ", ".join(rcpt), subject, raw))

    def list(self, limit: int = 200) -> list[tuple]:
        with self._db() as db:
            return db.execute("SELECT id, received_at, rcpt_to, subject FROM mail ORDER BY id DESC LIMIT ?",
                              (limit,)).fetchall()

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

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.store(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start(mailbox: Mailbox, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    # aiosmtpd logs every sender and recipient address at INFO: no email addresses in our logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = Controller(_Handler(mailbox), hostname=host, port=port)
    controller.start()
    return controller
