"""The embedded broker: a kombu virtual transport that keeps its queues in one SQLite file.

Why not kombu's memory:// — it loses everything on kill -9. Why not kombu's own SQLAlchemy
transport — it deletes a message when it is fetched, so a consumer that dies before its ack
loses it. Here a fetched message is only marked delivered; ack deletes it; a reject with
requeue, a channel close or the next process start makes it ready again. Exchanges and
bindings live in memory (every process declares its topology at start), so this is a broker
for ONE process: the embedded default. Multi-process deployments use RabbitMQ.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from queue import Empty

from kombu.transport import virtual

_LOCK = threading.RLock()
_CONNECTIONS: dict[str, sqlite3.Connection] = {}


def _db(path: str) -> sqlite3.Connection:
    with _LOCK:
        conn = _CONNECTIONS.get(path)
        if conn is None:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " queue TEXT NOT NULL, payload TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS ix_ready ON messages (queue, delivered, id)")
            # A new process owns the file: whatever the last one had in flight is ready again.
            conn.execute("UPDATE messages SET delivered = 0 WHERE delivered = 1")
            _CONNECTIONS[path] = conn
        return conn


def reset_process_state(path: str) -> None:
    """Forget one open broker file, as a killed process would (tests that simulate a restart).
    Bindings stay: every process declares its topology again at start anyway."""
    with _LOCK:
        conn = _CONNECTIONS.pop(path, None)
        if conn is not None:
            conn.close()


class Channel(virtual.Channel):
    do_restore = True
    supports_fanout = True

    @property
    def _path(self) -> str:
        return self.connection.client.transport_options["path"]

    def _exec(self, sql: str, args=()):
        with _LOCK:
            return _db(self._path).execute(sql, args)

    def _new_queue(self, queue, **kwargs):
        pass  # queues exist implicitly as rows

    def _has_queue(self, queue, **kwargs):
        return True

    def _queue_bind(self, *args):
        pass

    def _put(self, queue, message, **kwargs):
        self._exec("INSERT INTO messages (queue, payload) VALUES (?, ?)", (queue, json.dumps(message)))

    def _put_fanout(self, exchange, message, routing_key=None, **kwargs):
        for queue in self._lookup(exchange, routing_key):
            self._put(queue, message)

    def _get(self, queue, timeout=None):
        with _LOCK:
            row = self._exec(
                "SELECT id, payload FROM messages WHERE queue = ? AND delivered = 0 ORDER BY id LIMIT 1",
                (queue,),
            ).fetchone()
            if row is None:
                raise Empty()
            self._exec("UPDATE messages SET delivered = 1 WHERE id = ?", (row[0],))
        payload = json.loads(row[1])
        payload["properties"]["delivery_tag"] = str(row[0])
        return payload

    def _size(self, queue):
        return self._exec("SELECT COUNT(*) FROM messages WHERE queue = ?", (queue,)).fetchone()[0]

    def _purge(self, queue):
        return self._exec("DELETE FROM messages WHERE queue = ? AND delivered = 0", (queue,)).rowcount

    def _delete(self, queue, *args, **kwargs):
        self._exec("DELETE FROM messages WHERE queue = ?", (queue,))

    def _restore(self, message):
        self._exec("UPDATE messages SET delivered = 0 WHERE id = ?", (int(message.delivery_tag),))

    def basic_ack(self, delivery_tag, multiple=False):
        self._exec("DELETE FROM messages WHERE id = ?", (int(delivery_tag),))
        super().basic_ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag, requeue=False):
        if not requeue:
            self._exec("DELETE FROM messages WHERE id = ?", (int(delivery_tag),))
        super().basic_reject(delivery_tag, requeue)

    def after_reply_message_received(self, queue):
        pass


class Transport(virtual.Transport):
    Channel = Channel
    global_state = virtual.BrokerState()
    polling_interval = 0.02
    driver_type = "ocop-embedded"
    driver_name = "sqlite"

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        self.state = self.global_state

    def driver_version(self):
        return sqlite3.sqlite_version
