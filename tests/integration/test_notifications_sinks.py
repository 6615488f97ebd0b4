"""The embedded default's SMS sink: with no SMS gateway configured, the embedded host receives the
text messages itself (the gateway format of the README), keeps them, and shows them on the
console beside the mailbox, so a new user sees every channel. Through the whole platform:
registry -> events -> notifications -> the sink; the SMS's short link opens the answer page."""

from __future__ import annotations

import re

import requests
from support import wait_for
from test_notifications_email import invite, register


def test_an_invitation_by_sms_lands_in_the_sink_and_on_the_console(platform, api):
    producer, _, address = register(api, phone="0912 555 010", sms=True, name="HTX Bưởi da xanh Mỏ Cày")
    fair, invitations = invite(api, [producer])
    # (other open fairs of the suite may invite the same producer too: the delivery of this invitation)
    [row] = wait_for(
        lambda: [
            d
            for d in api.call(
                "GET",
                "notifications",
                "/deliveries",
                "trade_officer",
                params={"ref_id": invitations[producer["id"]]["id"], "channel": "sms"},
            ).json()
            if d["status"] == "sent"
        ],
        message="the SMS delivery logged as sent",
    )
    assert (row["template"], row["attempts"], row["producer_id"]) == ("invitation", 1, producer["id"])
    [(_, _, number, text, segments, encoding)] = platform.smsbox.by_reference(row["id"])
    assert number == "+84912555010" and text.startswith("OCOP: mời tham gia ") and "Đồng bằng sông Cửu Long" in text
    assert encoding == row["sms_encoding"] == "ucs2" and 1 <= segments == row["sms_segments"] <= 4
    short = re.search(r"http://127\.0\.0\.1:\d+/r/s/\S+$", text).group()
    page = api.http.get(short, timeout=10)
    assert page.status_code == 200 and "Đồng ý tham gia" in page.text and fair["name"] in page.text
    # the console shows the text message beside the email
    # (this fair's email: the SMS and the email are sent independently, either may come first)
    wait_for(
        lambda: [m for m in platform.mailbox.list(2000) if address in m[2] and fair["name"] in (m[3] or "")],
        message="the email",
    )
    console = api.http.get(platform.urls()["console"] + "/dev/", timeout=10).text
    assert "Text messages" in console and "+84912555010" in console and f"Thư mời tham gia {fair['name']}" in console
    assert api.http.get(platform.urls()["console"] + "/dev/sms", timeout=10).status_code == 200


def test_the_sink_speaks_the_gateway_format_and_drops_a_retry(platform):
    url = platform.runtimes["notifications"].settings.sms_gateway_url

    def mine():  # the platform's own messages may arrive meanwhile: count this test's number only
        return [m for m in platform.smsbox.list(5000) if m[2] == "+84912000999"]

    body = {
        "from": "OCOP",
        "to": "+84912000999",
        "text": "OCOP: thử nghiệm tiếng Việt có dấu",
        "encoding": "ucs2",
        "segments": 1,
        "reference": "d-1",
    }
    first = requests.post(url, json=body, headers={"Idempotency-Key": "d-1"}, timeout=10)
    again = requests.post(url, json=body, headers={"Idempotency-Key": "d-1"}, timeout=10)
    assert first.status_code == again.status_code == 200
    assert again.json() == {"message_id": first.json()["message_id"], "duplicate": True}
    assert [m[3] for m in mine()] == ["OCOP: thử nghiệm tiếng Việt có dấu"]
    for bad in (b"not json", b'{"to": "+84912000999"}', b"[]"):
        r = requests.post(url, data=bad, headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 400 and "error" in r.json()
    assert len(mine()) == 1
