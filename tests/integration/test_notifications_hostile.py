"""Hostile data where the notifications service writes for a mailbox or a calendar: a producer's name
with a line break (the API refuses it now, but older data or another producer of events may still
carry one) goes out on one line and adds no header (a real SMTP server receives the message); an
address that is not one address is not sent, for good, with the reason; the invitation's .ics stays
valid with markup and line breaks in the fair's fields."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from icalendar import Calendar
from test_notifications_guarantees import Smtp
from test_notifications_sms import notifier_factory  # noqa: F401 - fixture

from services.notifications.channels import ChannelError, EmailChannel

INJECTED = "\r\nBcc: victim@evil.example\r\nX-Injected: yes"


class EnvelopeSmtp(Smtp):
    """The test SMTP server, also keeping each message's envelope recipients."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.rcpt_tos = [*getattr(self, "rcpt_tos", []), *envelope.rcpt_tos]
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    s = EnvelopeSmtp()
    yield s
    s.stop()


@pytest.mark.parametrize("name", [f"HTX Buoi{INJECTED}", f"Hợp tác xã Bưởi{INJECTED}", "HTX\rBcc: victim@evil.example"])
def test_a_name_with_line_breaks_adds_no_header(notifier_factory, smtp, name):  # noqa: F811
    n = notifier_factory(smtp_port=smtp.port)
    p = n.producer(email="htx.buoi@example.vn", sms=False, name=name)
    inv = n.invitation(p["producer_id"])
    n.deliver(inv)
    [row] = n.deliveries(cause_event_id=inv["id"], channel="email")
    n.drain("email", lambda: n.deliveries(id=row.id)[0].status in ("sent", "failed", "parked"))
    assert n.deliveries(id=row.id)[0].status == "sent"
    [msg] = smtp.received
    assert smtp.rcpt_tos == ["htx.buoi@example.vn"]
    assert msg["Bcc"] is None and msg["X-Injected"] is None and msg.defects == []
    assert msg["To"].addresses[0].addr_spec == "htx.buoi@example.vn"
    # the name, on one line (Python's parser keeps the folding space between two encoded words, which a
    # decoder following RFC 2047 drops: compare the words)
    assert " Bcc: victim" in " ".join(msg["To"].addresses[0].display_name.split())
    assert "\r" not in str(msg["To"]) and "\n" not in str(msg["To"])
    for attachment in msg.iter_attachments():  # the invitation's calendar file parses
        Calendar.from_ical(attachment.get_content())


@pytest.mark.parametrize(
    "address", ["a@example.vn\r\nRCPT TO:<victim@evil.example>", "a b@example.vn", "<a@example.vn>", "no-at-sign", ""]
)
def test_an_address_that_is_not_one_fails_for_good_with_the_reason(address):
    channel = EmailChannel(
        SimpleNamespace(
            smtp_host="127.0.0.1", smtp_port=1, mail_from="OCOP <noreply@ocop.vn>", http_timeout_seconds=1.0
        )
    )
    delivery = SimpleNamespace(id="d-1", subject="Thư mời", body_text="x", body_html="", attachments=[], language="vi")
    with pytest.raises(ChannelError) as caught:
        channel.send(delivery, SimpleNamespace(name="HTX", email=address))
    assert caught.value.permanent and "not one plain address" in str(caught.value)
    assert "evil" not in str(caught.value)
