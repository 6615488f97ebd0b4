"""kill -9 of the embedded default (``python -m embedded``) in the middle of a flow loses nothing.

The embedded broker keeps its queues in SQLite: a message whose consumer had not finished is
ready again after a restart, the inbox drops what was already applied, and the email sender
commits each delivery right after its SMTP transaction. The SMTP server is a real one in this
test process (``OCOP_SMTP_SINK=0``), so it outlives the platform's process.

Where the kill lands matters for email, and the tests say so instead of hoping:
- killed while an SMTP transaction is open but before the server accepted the message: every
  invitation is emailed exactly once (the message was never delivered; it is sent after restart);
- killed after the server accepted a message but before the sender committed that fact: that one
  message is sent again after restart, with the same Message-ID and X-OCOP-Delivery headers so
  the resend is recognisable. No SMTP sender can close that window; the test pins it down.
"""

from __future__ import annotations

import signal
import sqlite3

import pytest
import requests
from e2e.deployment import PYTHON, SECRET, Client, SmtpServer, all_sent, process_env, wait_emails
from support import SERVICES, platform_env, real_mode, wait_for

pytestmark = pytest.mark.skipif(real_mode(), reason="embedded default only (the real broker has tests/faults/"
                                                    "test_real_broker.py)")


class Embedded:
    """``python -m embedded --no-demo`` as a process that a test kills and starts again."""

    def __init__(self, procs, env: dict[str, str]):
        self.procs = procs
        self.env = env
        self.urls = {s: f"http://127.0.0.1:{env[f'OCOP_{s.upper()}_PORT']}" for s in SERVICES}
        self.client = Client(self.urls, SECRET)
        self.starts = 0

    def start(self) -> Embedded:
        self.starts += 1
        proc = self.procs.start("embedded", [PYTHON, "-m", "embedded", "--no-demo"], self.env)

        def up():
            assert proc.poll() is None, self.procs.tail("embedded")
            try:
                return all(requests.get(self.urls[s] + "/readyz", timeout=2).ok for s in SERVICES)
            except requests.RequestException:
                return False

        wait_for(up, timeout=60, interval=0.1, message="embedded platform up")
        return self

    def kill(self) -> None:
        assert self.procs.kill("embedded") == -signal.SIGKILL

    def db(self, service: str) -> sqlite3.Connection:
        return sqlite3.connect(self.env[f"{service.upper()}_DATABASE_URL"].removeprefix("sqlite:///"), timeout=10)

    def count(self, service: str, sql: str, *args) -> int:
        with self.db(service) as db:
            return db.execute(sql, args).fetchone()[0]


@pytest.fixture
def platform(tmp_path, procs):
    env = process_env(platform_env(tmp_path, "faultembedded"), OCOP_SMTP_SINK="0")
    smtp = SmtpServer(int(env["SMTP_PORT"])).start()
    emb = Embedded(procs, env)
    emb.smtp = smtp
    try:
        yield emb
    finally:
        smtp.stop()


def certified_and_known(emb: Embedded, n: int) -> list[dict]:
    """n producers, each with one certified product, all in the events read model."""
    api = emb.client
    mine = api.register_many(n)
    products = [m["products"][0]["id"] for m in mine]
    wait_for(lambda: not api.missing_from_read_model(products), timeout=60, interval=0.3, message="read model")
    return mine


def publish_fair(emb: Embedded, n: int) -> list[dict]:
    fair = emb.client.create_fair(capacity=n, min_stars=4, provinces=["Vĩnh Long"])
    issued = [i for i in emb.client.publish(fair["id"]) if i["status"] == "issued"]
    assert len(issued) == n
    return issued


def assert_each_emailed_once(emb: Embedded, mine: list[dict]) -> None:
    api, smtp = emb.client, emb.smtp
    wait_emails(smtp, [m["email"] for m in mine], procs=emb.procs)
    rows = wait_for(all_sent(api, len(mine)), timeout=60, interval=0.2, message="every delivery sent")
    # every delivery is committed as sent: nothing can be (re)sent any more, the count is final
    counts = emb.smtp.by_recipient()
    assert {m["email"]: counts[m["email"]] for m in mine} == {m["email"]: 1 for m in mine}
    assert sum(counts.values()) == len(mine)
    assert len(rows) == len(mine) and {d["producer_id"] for d in rows} == {m["producer"]["id"] for m in mine}


def test_kill_while_sending_invitations_loses_and_repeats_nothing(platform):
    emb, smtp = platform.start(), platform.smtp
    mine = certified_and_known(emb, 30)
    smtp.hold_data(after=3)  # the 4th SMTP transaction stays open until the process is dead
    publish_fair(emb, 30)
    wait_for(smtp.held.is_set, timeout=30, message="fourth email in flight")
    emb.kill()
    smtp.release()
    assert smtp.count() == 3

    emb.start()
    assert_each_emailed_once(emb, mine)
    # the attempt cut short by the kill was never committed: the log shows one attempt each
    assert [d["attempts"] for d in emb.client.deliveries()] == [1] * 30
    assert emb.client.missing_from_read_model([m["products"][0]["id"] for m in mine]) == []


def test_kill_while_registry_events_propagate(platform):
    emb = platform.start()
    api = emb.client
    mine = api.register_many(30, threads=6, certify=False)
    products = [m["products"][0]["id"] for m in mine]
    api.certify_all(products, threads=10)  # a burst of 30 certifications...
    emb.kill()  # ...and kill -9 as soon as the registry has committed the last one
    behind = 30 - emb.count("events", "SELECT count(*) FROM certified_products")
    print(f"read model was {behind} of 30 products behind at the kill")

    emb.start()
    wait_for(lambda: not api.missing_from_read_model(products), timeout=60, interval=0.3, message="read model")
    assert emb.count("events", "SELECT count(*) FROM certified_products") == 30
    # one inbox row per event: every certification applied once, whatever was redelivered
    assert emb.count("events", "SELECT count(*) FROM inbox WHERE consumer = 'events.registry-feed' "
                               "AND event_type = 'registry.certification.granted'") == 30
    assert emb.count("registry", "SELECT count(*) FROM outbox WHERE type = 'registry.certification.granted'") == 30
    assert emb.count("notifications", "SELECT count(*) FROM recipients") == 30

    # the platform carries on: a fair invites all 30, each emailed once, one delivery each
    publish_fair(emb, 30)
    assert_each_emailed_once(emb, mine)


def test_kill_after_smtp_accepted_resends_that_one_recognisably(platform):
    """The unavoidable window, made deterministic: the server accepted the 3rd message and holds
    the session at QUIT, so the sender cannot commit; kill -9. After restart exactly that message
    is sent again, under the same Message-ID; every other invitation is emailed once."""
    emb, smtp = platform.start(), platform.smtp
    mine = certified_and_known(emb, 8)
    smtp.hold_quit(after=2)
    publish_fair(emb, 8)
    wait_for(smtp.held.is_set, timeout=30, message="third email accepted, sender held")
    emb.kill()
    smtp.release()
    [(twice, _, delivery_id, _)] = [smtp.received[2]]

    emb.start()
    wait_emails(smtp, [m["email"] for m in mine], procs=emb.procs)
    rows = wait_for(all_sent(emb.client, 8), timeout=60, interval=0.2, message="every delivery sent")
    counts = smtp.by_recipient()
    assert counts[twice] == 2 and all(counts[m["email"]] == 1 for m in mine if m["email"] != twice)
    assert sum(counts.values()) == 9
    first, again = smtp.message_ids(twice)
    assert delivery_id in first and first == again
    # the first attempt's commit was cut short: the log cannot show the resend, the headers can
    assert [d["attempts"] for d in rows if d["id"] == delivery_id] == [1]
