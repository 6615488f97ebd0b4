"""The embedded SMS sink: a tiny HTTP receiver speaking the SMS gateway format the notifications
service sends (README, "SMS through an HTTP gateway"), keeping every message in a SQLite file
(``var/sms.sqlite``) that the console shows beside the mailbox, and ``python -m embedded.sms``
lists. Like a provider it answers with a message id, and a request repeated with the same
``Idempotency-Key`` (a retry of one delivery) is stored once and answered with the first id."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_LOCK = threading.Lock()
FIELDS = ("to", "text")  # required; "from", "encoding", "segments", "reference" are kept when given


class SmsBox:
    def __init__(self, path: Path):
        self.path = str(path)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS sms (id INTEGER PRIMARY KEY, received_at TEXT, sender TEXT,"
                " recipient TEXT, text TEXT, encoding TEXT, segments INTEGER, reference TEXT,"
                " idempotency_key TEXT UNIQUE)"
            )

    def _db(self):
        return sqlite3.connect(self.path, timeout=30)

    def store(self, message: dict, key: str | None) -> tuple[int, bool]:
        """(id, stored now): a key seen before gives the first message's id and stores nothing."""
        with _LOCK, self._db() as db:
            if key:
                row = db.execute("SELECT id FROM sms WHERE idempotency_key = ?", (key,)).fetchone()
                if row:
                    return row[0], False
            cur = db.execute(
                "INSERT INTO sms (received_at, sender, recipient, text, encoding, segments, reference,"
                " idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(),
                    message.get("from"),
                    message["to"],
                    message["text"],
                    message.get("encoding"),
                    message.get("segments"),
                    message.get("reference"),
                    key,
                ),
            )
            return cur.lastrowid, True

    def list(self, limit: int = 200) -> list[tuple]:
        """(id, received_at, recipient, text, segments, encoding), newest first."""
        with self._db() as db:
            return db.execute(
                "SELECT id, received_at, recipient, text, segments, encoding FROM sms ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()

    def by_reference(self, reference: str) -> list[tuple]:
        """The messages with this reference (the delivery id), as ``list`` gives them."""
        with self._db() as db:
            return db.execute(
                "SELECT id, received_at, recipient, text, segments, encoding FROM sms WHERE reference = ? ORDER BY id",
                (reference,),
            ).fetchall()

    def has_reference(self, reference: str) -> bool:
        """Whether a message with this reference (the delivery id) arrived."""
        return bool(self.by_reference(reference))

    def count(self) -> int:
        with self._db() as db:
            return db.execute("SELECT count(*) FROM sms").fetchone()[0]


def _handler(box: SmsBox):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            except ValueError:
                return self._answer(400, {"error": "the body is not JSON"})
            if not isinstance(body, dict) or any(not isinstance(body.get(f), str) or not body[f] for f in FIELDS):
                return self._answer(400, {"error": "give 'to' and 'text' (strings)"})
            sms_id, new = box.store(body, self.headers.get("Idempotency-Key"))
            return self._answer(200, {"message_id": f"sink-{sms_id}", "duplicate": not new})

        def _answer(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # the default logs would name phone numbers
            pass

    return Handler


@dataclass
class SmsSink:
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/send"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start(box: SmsBox, host: str = "127.0.0.1", port: int = 0) -> SmsSink:
    """Listen on ``host:port`` (0: a free port; only the embedded host needs to know it)."""
    server = ThreadingHTTPServer((host, port), _handler(box))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="sms-sink", daemon=True)
    thread.start()
    return SmsSink(server, thread)
