"""kill -9 of the embedded default (``python -m embedded``) in the middle of a flow loses nothing.

The embedded broker keeps its queues in SQLite: a message whose consumer had not finished is
ready again after a restart, and the inbox drops what was already applied. The email sender
commits its claim of a batch ("sending") before handing anything to the mail server and each
outcome as soon as the server answered, over one kept-open SMTP connection. Mostly the SMTP
server is a real one in this test process (``OCOP_SMTP_SINK=0``), so it outlives the platform.

Where the kill lands matters for email, and the tests say so instead of hoping:
- killed while a message is in the server's hands but not yet accepted: every invitation is
  emailed exactly once; the claimed batch is in doubt after the restart and sent (again), each
  with its interrupted attempt counted and said in the delivery log;
- killed after the server answered 250 and closed the session's transaction but before QUIT (the
  window that used to send a message twice): nothing is sent twice any more, since the outcome is
  committed right after the 250;
- killed after the server accepted a message but before its 250 reached the sender (the server's
  answer in flight): that one message is sent again after restart, under the same Message-ID and
  X-OCOP-Delivery, and the delivery log says a duplicate is possible. Without asking the server
  no SMTP client can close that window; the test pins it down (one message, the one in flight);
- the same kill with the embedded mail sink as the server: the sender asks the sink after the
  restart, finds the message and does not send it again (exactly once).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from email import message_from_bytes, policy

import pytest
import requests
from e2e.deployment import PYTHON, Client, SmtpServer, all_sent, process_env, wait_emails
from support import SERVICES, platform_env, real_mode, wait_for

from services.notifications.delivery_queue import FOUND, INTERRUPTED

pytestmark = pytest.mark.skipif(
    real_mode(), reason="embedded default only (the real broker has tests/faults/test_real_broker.py)"
)


class Embedded:
    """``python -m embedded --no-demo`` as a process that a test kills and starts again."""

    def __init__(self, procs, env: dict[str, str]):
        self.procs = procs
        self.env = env
        self.urls = {s: f"http://127.0.0.1:{env[f'OCOP_{s.upper()}_PORT']}" for s in SERVICES}
        self.client = Client(self.urls)  # tokens signed with the test key pair platform_env gives the process
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


class HeldReplySmtp(SmtpServer):
    """Also a gate after acceptance: ``hold_reply(after)`` keeps the (after+1)-th message (accepted,
    recorded) and holds its 250 until released, as a server whose answer is still on the wire."""

    def hold_reply(self, after: int) -> None:
        self._arm("reply", after)

    async def handle_DATA(self, server, session, envelope):
        if self._gate != "reply" or len(self.received) < self._gate_after:
            return await super().handle_DATA(server, session, envelope)
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt.lower(), str(msg["Message-ID"]), str(msg["X-OCOP-Delivery"]), msg))
        self._gate = None  # one held answer
        await self._hold()
        await asyncio.sleep(0)
        return "250 2.0.0 accepted"


@pytest.fixture
def platform(tmp_path, procs):
    # One SMTP connection, so where the kill lands is exact: the bounds below are per connection
    # (OCOP_EMAIL_CONNECTIONS, 3 by default: at most one message in doubt for each).
    env = process_env(platform_env(tmp_path, "faultembedded"), OCOP_SMTP_SINK="0", OCOP_EMAIL_CONNECTIONS="1")
    smtp = HeldReplySmtp(int(env["SMTP_PORT"])).start()
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


def in_doubt(rows: list[dict]) -> list[dict]:
    """Deliveries whose claim a kill interrupted, as the log shows them after the restart."""
    return [d for d in rows if d["last_error"] in (INTERRUPTED, FOUND)]


def test_kill_while_sending_invitations_loses_and_repeats_nothing(platform):
    emb, smtp = platform.start(), platform.smtp
    mine = certified_and_known(emb, 30)
    smtp.hold_data(after=3)  # the 4th message stays in the server's hands, unaccepted, until the process is dead
    publish_fair(emb, 30)
    wait_for(smtp.held.is_set, timeout=30, message="fourth email in flight")
    emb.kill()
    smtp.release()
    assert smtp.count() == 3

    emb.start()
    assert_each_emailed_once(emb, mine)
    # only the message handed to the server was in doubt after the restart: sent again, its
    # interrupted attempt counted and said; the rest of the claimed batch had never left and went
    # out once, as did the three sent before the kill
    rows = emb.client.deliveries()
    [doubted] = in_doubt(rows)
    assert doubted["last_error"] == INTERRUPTED and doubted["attempts"] == 2
    assert sorted(d["attempts"] for d in rows) == [1] * 29 + [2]
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
    assert (
        emb.count(
            "events",
            "SELECT count(*) FROM inbox WHERE consumer = 'events.registry-feed' "
            "AND event_type = 'registry.certification.granted'",
        )
        == 30
    )
    assert emb.count("registry", "SELECT count(*) FROM outbox WHERE type = 'registry.certification.granted'") == 30
    assert emb.count("notifications", "SELECT count(*) FROM recipients") == 30

    # the platform carries on: a fair invites all 30, each emailed once, one delivery each
    publish_fair(emb, 30)
    assert_each_emailed_once(emb, mine)


def test_kill_between_the_servers_250_and_quit_sends_nothing_twice(platform):
    """The window that used to repeat a message: accepted, the session held at QUIT. The sender
    keeps its connection open and commits each outcome right after the 250, so the hold at QUIT
    (when the sender finally lets the connection go) finds nothing unrecorded."""
    emb, smtp = platform.start(), platform.smtp
    mine = certified_and_known(emb, 8)
    smtp.hold_quit(after=0)
    publish_fair(emb, 8)
    wait_for(lambda: smtp.count() == 8, timeout=60, message="eight emails accepted")
    wait_for(all_sent(emb.client, 8), timeout=60, interval=0.2, message="every outcome recorded")
    emb.kill()
    smtp.release()

    emb.start()
    rows = wait_for(all_sent(emb.client, 8), timeout=60, interval=0.2, message="every delivery sent")
    counts = smtp.by_recipient()
    assert {m["email"]: counts[m["email"]] for m in mine} == {m["email"]: 1 for m in mine}
    assert [d["attempts"] for d in rows] == [1] * 8 and not in_doubt(rows)


def test_kill_with_the_servers_250_in_flight_resends_that_one_recognisably(platform):
    """The window left: the server accepted the 3rd message and its 250 is still on the wire when the
    process dies. After the restart exactly that message is sent again, under the same Message-ID;
    every other invitation is emailed once, and the delivery log says which one may be a duplicate."""
    emb, smtp = platform.start(), platform.smtp
    mine = certified_and_known(emb, 8)
    smtp.hold_reply(after=2)
    publish_fair(emb, 8)
    wait_for(smtp.held.is_set, timeout=30, message="third email accepted, its answer held")
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
    [resent] = [d for d in rows if d["id"] == delivery_id]
    assert resent["attempts"] == 2 and resent["last_error"] == INTERRUPTED
    assert in_doubt(rows) == [resent] and sorted(d["attempts"] for d in rows) == [1] * 7 + [2]


def test_kill_after_the_embedded_sink_stored_an_email_sends_it_once(tmp_path, procs):
    """With the embedded mail sink as the server, the process dies right after the sink stored the
    3rd message, before answering it (OCOP_TEST_KILL_AFTER_MAILS). After the restart the sender
    asks the sink, finds that message and does not send it again: each invitation arrives once."""
    env = process_env(platform_env(tmp_path, "faultsink"), OCOP_TEST_KILL_AFTER_MAILS="3", OCOP_EMAIL_CONNECTIONS="1")
    emb = Embedded(procs, env).start()
    mine = certified_and_known(emb, 8)
    fair = emb.client.create_fair(capacity=8, min_stars=4, provinces=["Vĩnh Long"])
    emb.client.call("POST", "events", f"/fairs/{fair['id']}/publish", "trade_officer")
    wait_for(lambda: emb.procs.procs["embedded"].poll() is not None, timeout=60, message="the process killed itself")
    assert emb.procs.procs["embedded"].returncode == -signal.SIGKILL

    emb.env = {k: v for k, v in env.items() if k != "OCOP_TEST_KILL_AFTER_MAILS"}
    emb.start()
    rows = wait_for(all_sent(emb.client, 8), timeout=60, interval=0.2, message="every delivery sent")
    with sqlite3.connect(tmp_path / "mailbox.sqlite") as db:
        received = [r for (r,) in db.execute("SELECT rcpt_to FROM mail")]
    assert sorted(received) == sorted(m["email"] for m in mine)  # each once
    found = [d for d in rows if d["last_error"] == FOUND]
    assert len(found) == 1 and found[0]["attempts"] == 1
    assert all(d["attempts"] == 2 for d in rows if d["last_error"] == INTERRUPTED)
