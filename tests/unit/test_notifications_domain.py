"""The notifications service's pure rules: SMS numbers, encodings and segments, channel usability,
backoff, the rate limit (with a clock the test moves), webhook signatures, redaction."""

from __future__ import annotations

import pytest

from services.notifications import domain

LINK = "https://ocop.example.vn/r/s/AbCdEf123456"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0912 345 678", "+84912345678"),
        ("+84 912-345-678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("0084 3 9876 5432", "+84398765432"),
        ("(+84) 703.111.222", "+84703111222"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0275 3822 123", None),
        ("+84 275 3822 123", None),
        ("12345", None),
        ("", None),
        (None, None),
        ("0912 345 67", None),
    ],
)
def test_mobile_numbers(raw, e164):
    assert domain.mobile_number(raw) == e164


def test_gsm7_sizes_160_then_153_per_part():
    assert domain.count_segments("a" * 160, "gsm7") == (1, 160)
    assert domain.count_segments("a" * 161, "gsm7") == (2, 161)
    assert domain.count_segments("a" * 306, "gsm7") == (2, 306)
    assert domain.count_segments("a" * 307, "gsm7") == (3, 307)
    # the extension set costs two septets, and an escape pair never straddles two parts
    assert domain.count_segments("€" * 80, "gsm7") == (1, 160)
    assert domain.count_segments("a" + "€" * 80, "gsm7") == (2, 161)
    assert domain.count_segments("a" * 152 + "€", "gsm7")[0] == 1  # 154 septets: one message
    assert domain.count_segments("a" * 152 + "€" + "a" * 10, "gsm7")[0] == 2


def test_ucs2_sizes_70_then_67_per_part():
    vi = "ệ"
    assert domain.count_segments(vi * 70, "ucs2") == (1, 70)
    assert domain.count_segments(vi * 71, "ucs2") == (2, 71)
    assert domain.count_segments(vi * 134, "ucs2") == (2, 134)
    assert domain.count_segments(vi * 135, "ucs2") == (3, 135)
    assert domain.count_segments("😀" * 35, "ucs2") == (1, 70)  # outside the BMP: two code units each


def test_vietnamese_cannot_go_as_gsm7_but_can_unaccented():
    text = "Hội chợ OCOP Cần Thơ – hỗ trợ 8.000.000 ₫/gian, Đồng Tháp"
    assert not domain.is_gsm7(text)
    sms = domain.encode_sms(text, "ucs2")
    assert sms.encoding == "ucs2" and sms.text == text
    flat = domain.encode_sms(text, "unaccented")
    assert flat.encoding == "gsm7" and flat.text == "Hoi cho OCOP Can Tho - ho tro 8.000.000 d/gian, Dong Thap"
    # decomposed input (another keyboard) is normalised first, so it costs the same
    import unicodedata

    assert domain.encode_sms(unicodedata.normalize("NFD", text), "ucs2") == sms
    # English needs nothing outside GSM-7: it goes as GSM-7 even in the ucs2 mode
    assert domain.encode_sms("Invitation to the fair", "ucs2").encoding == "gsm7"


@pytest.mark.parametrize("mode", domain.SMS_MODES)
def test_fit_shortens_the_clipped_field_and_keeps_the_link(mode):
    name = "Hội chợ Triển lãm Nông sản, Đặc sản và Sản phẩm OCOP các tỉnh Đồng bằng sông Cửu Long mở rộng năm 2025"

    def render(clip):
        shown = name if clip is None or len(name) <= clip else name[: clip - 1] + "…"
        return f"OCOP: mời tham gia {shown}, Cần Thơ, 20/11-24/11. Trả lời trước 17:00 31/10:"

    full = domain.fit_sms(render, LINK, mode, max_segments=9)
    short = domain.fit_sms(render, LINK, mode, max_segments=2)
    assert full.text.endswith(" " + LINK) and short.text.endswith(" " + LINK)
    assert short.segments <= 2 < full.segments or (mode == "unaccented" and short.segments <= 2)
    assert len(short.text) < len(full.text) or full.segments <= 2
    assert ("Trả lời trước" if mode == "ucs2" else "Tra loi truoc") in short.text
    # impossible to fit: the shortest form is sent whole, link intact
    tiny = domain.fit_sms(render, LINK, mode, max_segments=1)
    assert tiny.text.endswith(" " + LINK) and tiny.segments >= 1


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"address": "a@b.vn", "consent": True, "opted_out": False, "configured": True}, None),
        ({"address": None, "consent": True, "opted_out": False, "configured": True}, "no email address"),
        ({"address": "a@b.vn", "consent": False, "opted_out": False, "configured": True}, "no consent"),
        ({"address": "a@b.vn", "consent": True, "opted_out": True, "configured": True}, "opted out"),
        ({"address": "a@b.vn", "consent": True, "opted_out": False, "configured": False}, "channel not configured"),
    ],
)
def test_channel_problems_never_name_the_address(kwargs, problem):
    assert domain.channel_problem("email", **kwargs) == problem
    assert domain.channel_problem("sms", **{**kwargs, "address": None}) in (
        "no mobile number",
        "channel not configured",
    )


def test_backoff_doubles_up_to_the_cap():
    assert [domain.backoff_seconds(n, 2, 30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_rate_limit_with_a_clock_the_test_moves():
    now = [100.0]
    limit = domain.RateLimit(2, burst=2, clock=lambda: now[0])
    taken = 0
    while limit.ready():
        limit.take()
        taken += 1
    assert taken == 2 and limit.wait_seconds() == pytest.approx(0.5)
    now[0] += 0.5
    assert limit.ready() and (limit.take() or True) and not limit.ready()
    now[0] += 10  # a long pause refills only up to the burst
    assert sum(1 for _ in range(5) if limit.ready() and (limit.take() or True)) == 2
    unlimited = domain.RateLimit(0)
    assert all(unlimited.ready() for _ in range(1000)) and unlimited.wait_seconds() == 0


def test_webhook_signature_over_timestamp_and_body():
    body = '{"type": "events.invitation.issued", "name": "Hội chợ"}'.encode()
    sig = domain.sign("s3cret", 1_700_000_000, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert domain.verify("s3cret", "1700000000", body, sig, now=1_700_000_100)
    assert not domain.verify("other", "1700000000", body, sig, now=1_700_000_100)
    assert not domain.verify("s3cret", "1700000001", body, sig, now=1_700_000_100)  # timestamp is signed
    assert not domain.verify("s3cret", "1700000000", body + b" ", sig, now=1_700_000_100)
    assert not domain.verify("s3cret", "1700000000", body, sig, now=1_700_000_000 + 301)  # stale: replay
    assert not domain.verify("s3cret", "soon", body, sig)


@pytest.mark.parametrize(
    ("pattern", "key", "match"),
    [
        ("events.invitation.#", "events.invitation.issued", True),
        ("events.#", "events.fair.published", True),
        ("registry.producer.#", "registry.product.updated", False),
        ("events.*", "events.fair.published", False),
        ("#", "anything.at.all", True),
        ("events.invitation.issued", "events.invitation.issued", True),
    ],
)
def test_topic_matching(pattern, key, match):
    assert domain.topic_matches(pattern, key) is match


def test_redaction_of_addresses_and_phone_numbers():
    text = (
        "SMTP 550: 5.1.1 <htx.keodua@example.vn>: mailbox unavailable; sms to +84 912 345 678 "
        "and 0912345678 failed at 2025-10-31 (code 4.2.1)"
    )
    out = domain.redact(text)
    assert "example.vn" not in out and "912" not in out
    assert out.count("[email]") == 1 and out.count("[phone]") == 2
    assert "SMTP 550: 5.1.1" in out and "2025-10-31" in out and "4.2.1" in out
    assert domain.mask_email("htx.keodua@example.vn") == "h***@example.vn"
    assert domain.mask_phone("+84912345678") == "+84******678"


# ---- reactions: why an invitation ended, which fair changes matter, reminders -----------------------
@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("the fair was cancelled: Bão số 7 đổ bộ", ("fair_cancelled", "Bão số 7 đổ bộ")),
        ("the fair was cancelled", ("fair_cancelled", None)),
        ("withdrawn by the organiser: sai thông tin sản phẩm", ("organiser", "sai thông tin sản phẩm")),
        (
            "the certificate of Kẹo dừa sầu riêng Thanh Long was revoked (QĐ 2210/QĐ-UBND)",
            ("certificate_revoked", "Kẹo dừa sầu riêng Thanh Long"),
        ),
        ("the certificate of Bưởi da xanh was expired", ("certificate_expired", "Bưởi da xanh")),
        ("every booth of the fair is taken", ("fair_full", None)),
        ("group 1 has reached its quota of 60% of the booths", ("fair_full", None)),
        ("something  new\nentirely", ("other", "something new entirely")),
    ],
)
def test_withdrawal_causes_from_the_events_services_words(reason, cause):
    assert domain.withdrawal_cause(reason) == cause


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("the deadline 2025-10-31T10:00:00+00:00 has passed", ("deadline_passed", None)),
        ("Đã quá hạn trả lời lời mời (hạn chót 17:00 ngày 31/10/2025).", ("deadline_passed", None)),
        ("the invitation is already accepted", ("already_answered", None)),
        ("the invitation is already declined", ("already_answered", None)),
        ("the invitation is already withdrawn", ("closed", None)),
        ("the invitation is already expired", ("closed", None)),
        ("the invitation is not offered yet: it is on the waitlist", ("waitlisted", None)),
        ("every booth of the fair is taken", ("fair_full", None)),
        (
            "cannot accept: already exhibiting at Hội chợ Cần Thơ (2025-11-20 to 2025-11-24), which overlaps this fair",
            ("clash", "Hội chợ Cần Thơ"),
        ),
        ("this invitation belongs to another producer", ("other", "this invitation belongs to another producer")),
    ],
)
def test_refusal_causes(reason, cause):
    assert domain.refusal_cause(reason) == cause


def test_fair_changes_worth_telling_a_producer():
    before = {"name": "A", "venue": "SECC", "starts_on": "2025-11-20", "ends_on": "2025-11-24", "subsidy_per_booth": 1}
    after = {**before, "venue": "Nhà văn hóa", "ends_on": "2025-11-25", "capacity": 300}
    changes = domain.fair_changes(["capacity", "ends_on", "venue", "rules"], before, after)
    assert changes == [
        {"field": "venue", "old": "SECC", "new": "Nhà văn hóa"},
        {"field": "dates", "old": ("2025-11-20", "2025-11-24"), "new": ("2025-11-20", "2025-11-25")},
    ]
    assert domain.fair_changes(["capacity", "rules", "budget"], before, after) == []


def test_calendar_sequence_grows_with_time():
    from datetime import UTC, datetime

    assert domain.calendar_sequence(None) == 0
    early = domain.calendar_sequence(datetime(2025, 10, 1, tzinfo=UTC))
    assert 0 < early < domain.calendar_sequence(datetime(2025, 10, 1, 0, 0, 1, tzinfo=UTC)) < 2**31


def test_reminder_due_the_latest_missed_and_never_right_after_the_invitation():
    from datetime import UTC, datetime, timedelta

    deadline = datetime(2025, 10, 31, 10, 0, tzinfo=UTC)
    issued = deadline - timedelta(days=14)
    due = lambda now, issued_at=issued: domain.reminder_due(deadline, issued_at, now, (3, 1))  # noqa: E731
    assert due(deadline - timedelta(days=3, seconds=1)) is None
    assert due(deadline - timedelta(days=3)) == 3
    assert due(deadline - timedelta(days=1, hours=1)) == 3
    assert due(deadline - timedelta(hours=23)) == 1  # a worker down for two days sends one, the latest
    assert due(deadline) is None and due(deadline + timedelta(hours=1)) is None
    promoted = deadline - timedelta(days=2)
    assert due(deadline - timedelta(days=1, hours=12), promoted) is None  # the 3-day moment came before it
    assert due(deadline - timedelta(hours=12), promoted) == 1


@pytest.mark.parametrize(
    ("value", "offsets"),
    [(None, (3, 1)), ("", (3, 1)), ("1,3", (3, 1)), ("7, 3, 1", (7, 3, 1)), ("2", (2,)), ("0", ()), ("none", ())],
)
def test_reminder_offsets_from_configuration(value, offsets):
    assert domain.parse_offsets(value) == offsets


@pytest.mark.parametrize("value", ["-1", "90", "x"])
def test_bad_reminder_offsets_are_refused(value):
    with pytest.raises(ValueError):
        domain.parse_offsets(value)
