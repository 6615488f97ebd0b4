"""Notification templates: every message renders in both languages from its event's golden sample,
the Babel catalogues are complete, Vietnamese stays intact (subject, text, HTML, SMS, .ics), and an
email built from a rendering parses back with the standard library to the same text."""

from __future__ import annotations

import re
import unicodedata
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from types import SimpleNamespace

import pytest
from icalendar import Calendar

from services.notifications import domain, i18n
from services.notifications.channels import email_bytes
from services.notifications.rendering import render
from shared.contracts import parse_envelope, sample

TEMPLATES = sorted(domain.MESSAGES)
OFFERS = ["invitation", "promotion"]  # the invitation, and the same offer after a promotion from the waitlist
LINK = "http://127.0.0.1:8003/r/eyJpbnYiOiJhNDFjIn0.c2lnbmF0dXJl"
SHORT = "http://127.0.0.1:8003/r/s/AbCdEf123456"
NAME = "Hợp tác xã Kẹo dừa Thanh Long"


def sample_context(name: str) -> dict:
    kind = domain.MESSAGES[name]
    _, data = parse_envelope(sample(kind.event_type, 1))
    from services.notifications.previews import preview_context

    ctx = preview_context(name, data, NAME, "http://127.0.0.1:8003")
    return {**ctx, **({"link": LINK, "short_link": SHORT} if ctx.get("link") else {})}


def rendered(name: str, lang: str, mode: str = "ucs2", **ctx_changes):
    ctx = {**sample_context(name), **ctx_changes}
    return render(
        name, lang, ctx, sms_link=ctx.get("short_link") or "", sms_mode=mode, sms_max_segments=4, calendar_uid="inv-1"
    )


def english_phrases() -> list[str]:
    """The catalogue's message ids without placeholders: none may appear in a Vietnamese message."""
    out = []
    for m in i18n.read("en"):
        mid = m.id if isinstance(m.id, str) else m.id[0]
        if mid and "%(" not in mid and len(mid) > 4:
            out.append(mid)
    return out


def test_catalogues_are_complete_and_cover_every_template_message():
    assert i18n.problems() == []
    ids = {m.id for m in i18n.read("vi") if m.id}
    assert "Invitation to %(name)s" in ids and len(ids) >= 15


def test_catalogues_compile_in_memory_from_the_po_sources():
    assert i18n.translations("vi").gettext("Answer by") == "Hạn trả lời"
    assert i18n.translations("en").gettext("Answer by") == "Answer by"
    assert i18n.translations("vi").ngettext("%(num)d star", "%(num)d stars", 4) == "%(num)d sao"


@pytest.mark.parametrize("name", OFFERS)
def test_vietnamese_is_the_default_and_carries_what_a_producer_needs(name):
    fair = sample_context(name)["fair"]
    for lang in ("vi", None, "fr"):
        r = rendered(name, lang)
        assert r.language == "vi"
        assert (
            r.subject
            == {
                "invitation": f"Thư mời tham gia {fair['name']}",
                "promotion": f"Có chỗ dành cho quý đơn vị: {fair['name']}",
            }[name]
        )
        # which fair, where, when, what is paid for, by when, the one-tap link
        for part in (
            fair["name"],
            fair["venue"],
            "từ 20/11/2025 đến 24/11/2025",
            "Kẹo dừa sầu riêng Thanh Long (4 sao)",
            "ban tổ chức chi trả 12.000.000 ₫ cho mỗi gian hàng",
            "Hạn trả lời: 23:59 ngày 31/10/2025",
            LINK,
        ):
            assert part in r.text, part
        assert f'href="{LINK}"' in r.html and "Trả lời lời mời" in r.html and 'lang="vi"' in r.html
        for phrase in english_phrases():
            assert phrase not in r.text and phrase not in r.html and phrase not in r.subject, phrase


@pytest.mark.parametrize("name", OFFERS)
def test_english_where_the_producer_prefers_it(name):
    fair = sample_context(name)["fair"]
    r = rendered(name, "en")
    assert (
        r.language == "en"
        and r.subject
        == {"invitation": f"Invitation to {fair['name']}", "promotion": f"A place is free for you: {fair['name']}"}[
            name
        ]
    )
    for part in (
        f"Dear {NAME},",
        "from 20 November 2025 to 24 November 2025",
        "(4 stars)",
        "the organiser pays 12.000.000 ₫ per booth",
        "Answer by: 11:59 PM on 31 October 2025",
        LINK,
    ):
        assert part in r.text, part
    assert 'lang="en"' in r.html


# Per message: what its sample must say in Vietnamese and in English (subject first, then body
# phrases), and the Vietnamese name every part (subject, text, HTML, SMS, calendar file) carries.
SAYS = {
    "invitation": (
        "Thư mời tham gia Hội chợ OCOP",
        ["Sở Công Thương Thành phố Hồ Chí Minh trân trọng mời", "Hạn trả lời"],
        "Invitation to Hội chợ OCOP",
        ["invites you to take part", "Answer by"],
        "Hồ Chí Minh",
    ),
    "promotion": (
        "Có chỗ dành cho quý đơn vị: Hội chợ OCOP",
        ["danh sách chờ", "Hạn trả lời: 23:59 ngày 31/10/2025"],
        "A place is free for you: Hội chợ OCOP",
        ["next on the waitlist"],
        "Hồ Chí Minh",
    ),
    "reminder": (
        "Nhắc hạn: thư mời tham gia Hội chợ OCOP",
        ["Chỉ còn 3 ngày để trả lời.", LINK],
        "Reminder: the invitation to Hội chợ OCOP",
        ["Only 3 days are left to answer.", LINK],
        "Hồ Chí Minh",
    ),
    "withdrawn": (
        "Thu hồi thư mời tham gia Hội chợ OCOP",
        [
            "Giấy chứng nhận OCOP của sản phẩm Kẹo dừa sầu riêng Thanh Long đã bị thu hồi",
            "Gian hàng số 42 không còn được giữ",
        ],
        "Invitation to Hội chợ OCOP",
        ["certificate of Kẹo dừa sầu riêng Thanh Long was revoked", "Booth 42 is no longer held for you."],
        "Hồ Chí Minh",
    ),
    "fair_updated": (
        "Thay đổi về Hội chợ OCOP",
        [
            "Địa điểm: Trung tâm Hội chợ và Triển lãm Sài Gòn (SECC), 799 Nguyễn Văn Linh (trước đây: "
            "Nhà văn hóa Thanh Niên, 4 Phạm Ngọc Thạch)",
            "Gian hàng của quý đơn vị: số 42.",
        ],
        "Changes to Hội chợ OCOP",
        ["Where: Trung tâm Hội chợ", "(was Nhà văn hóa Thanh Niên", "Your booth: 42."],
        "Hồ Chí Minh",
    ),
    "fair_cancelled": (
        "Thông báo hủy Phiên chợ OCOP Cần Thơ tháng 11",
        ["từ 20/11/2025 đến 24/11/2025", "Lý do: Bão số 7 đổ bộ", "Gian hàng số 42"],
        "Phiên chợ OCOP Cần Thơ tháng 11 is cancelled",
        ["Reason given: Bão số 7"],
        "Cần Thơ",
    ),
    "accepted": (
        "Xác nhận tham gia Hội chợ OCOP và đặc sản vùng miền Thành phố Hồ Chí Minh 2025, gian hàng số 42",
        ["Gian hàng của quý đơn vị: số 42.", "ổ điện 220V"],
        "Confirmed: Hội chợ OCOP",
        ["Your booth: 42."],
        "Hồ Chí Minh",
    ),
    "declined": (
        "Đã ghi nhận: quý đơn vị từ chối tham gia Hội chợ OCOP",
        ["Cảm ơn quý đơn vị đã trả lời"],
        "Your answer is recorded: you decline Hội chợ OCOP",
        ["Thank you for answering"],
        "Hồ Chí Minh",
    ),
    "answer_refused": (
        "Chưa thể ghi nhận câu trả lời cho thư mời tham gia Hội chợ OCOP",
        ["đồng ý tham gia", "Đã quá hạn trả lời thư mời."],
        "Your answer to the invitation to Hội chợ",
        ["The deadline for answering had passed."],
        "Hồ Chí Minh",
    ),
    "certificate_expiring": (
        "Giấy chứng nhận OCOP của Kẹo dừa sầu riêng Thanh Long hết hiệu lực ngày 20/07/2028",
        ["còn 30 ngày", "36 tháng", "tái chứng nhận"],
        "The OCOP certificate of Kẹo dừa sầu riêng Thanh Long expires on 20 July 2028",
        ["30 days from now", "re-certification"],
        "Kẹo dừa sầu riêng",
    ),
    "certificate_expired": (
        "Giấy chứng nhận OCOP của Kẹo dừa sầu riêng Thanh Long đã hết hiệu lực",
        ["có hiệu lực đến ngày 20/07/2028", "không còn là sản phẩm OCOP"],
        "The OCOP certificate of Kẹo dừa sầu riêng Thanh Long has expired",
        ["was valid until 20 July 2028"],
        "Kẹo dừa sầu riêng",
    ),
}


def test_every_message_has_its_expectations():
    assert set(SAYS) == set(domain.MESSAGES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_message_in_vietnamese_by_default_and_in_english(name):
    vi_subject, vi_phrases, en_subject, en_phrases, _ = SAYS[name]
    for lang in ("vi", None, "fr"):
        r = rendered(name, lang)
        assert r.language == "vi" and r.subject.startswith(vi_subject), r.subject
        assert r.text.startswith(f"Kính gửi {NAME},") and 'lang="vi"' in r.html
        for part in vi_phrases:
            assert part in r.text, part
        for phrase in english_phrases():
            assert phrase not in r.text and phrase not in r.html and phrase not in r.subject, phrase
        assert r.sms.text.startswith("OCOP: ") and 1 <= r.sms.segments <= 4
        assert r.sms.text.endswith(SHORT) == domain.MESSAGES[name].answer_link
    r = rendered(name, "en")
    assert r.language == "en" and r.subject.startswith(en_subject) and 'lang="en"' in r.html
    assert r.text.startswith(f"Dear {NAME},")
    for part in en_phrases:
        assert part in r.text, part


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_part_keeps_the_diacritics_in_nfc(name, lang):
    r = rendered(name, lang)
    marker = SAYS[name][4]
    for text in (r.subject, r.text, r.html, r.sms.text, *(a.content for a in r.attachments)):
        assert unicodedata.is_normalized("NFC", text)
        assert marker in text, text
    assert bool(r.attachments) == domain.MESSAGES[name].calendar


@pytest.mark.parametrize("name", [n for n in TEMPLATES if domain.MESSAGES[n].calendar])
def test_later_calendar_files_replace_the_invitations_entry(name):
    """One UID per invitation: each later file (withdrawn, changed, cancelled, booth confirmed,
    declined) carries a higher SEQUENCE than the invitation's 0, and says what became of the entry."""
    [att] = rendered(name, "vi").attachments
    [event] = Calendar.from_ical(att.content).walk("VEVENT")
    assert str(event["uid"]) == "inv-1@ocop.local"
    expected = {
        "withdrawn": "CANCELLED",
        "fair_cancelled": "CANCELLED",
        "declined": "CANCELLED",
        "accepted": "CONFIRMED",
    }.get(name)
    assert (str(event["status"]) if "status" in event else None) == expected
    assert (int(event["sequence"]) > 0) == (name not in OFFERS)
    assert bool(event.walk("VALARM")) == (name in OFFERS)  # an alarm before the deadline, only on an offer


def test_no_subsidy_says_so():
    ctx = sample_context("invitation")
    r = rendered("invitation", "vi", fair={**ctx["fair"], "subsidy_per_booth": 0})
    assert "không có hỗ trợ gian hàng" in r.text and "12.000.000" not in r.text


def test_html_escapes_what_comes_from_data():
    ctx = sample_context("invitation")
    r = rendered("invitation", "vi", fair={**ctx["fair"], "name": "Hội chợ <b>&</b>"})
    assert "Hội chợ &lt;b&gt;&amp;&lt;/b&gt;" in r.html and "<b>&</b>" not in r.html
    assert "Hội chợ <b>&</b>" in r.text  # plain text is not HTML


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_calendar_attachment_is_valid_icalendar_with_the_fair(lang):
    ctx = sample_context("invitation")
    [att] = rendered("invitation", lang).attachments
    assert att.content_type == "text/calendar; method=PUBLISH" and re.fullmatch(r"[a-z0-9-]+\.ics", att.filename)
    cal = Calendar.from_ical(att.content)
    assert str(cal["method"]) == "PUBLISH"
    [event] = cal.walk("VEVENT")
    assert str(event["summary"]) == ctx["fair"]["name"]
    assert str(event["location"]) == f"{ctx['fair']['venue']}, {ctx['fair']['host_province']}"
    assert event.decoded("dtstart").isoformat() == "2025-11-20"
    assert event.decoded("dtend").isoformat() == "2025-11-25"  # exclusive: the fair ends on the 24th
    assert str(event["uid"]) == "inv-1@ocop.local" and str(event["url"]) == LINK
    assert ("Hạn trả lời" if lang == "vi" else "Answer by") in str(event["description"])
    [alarm] = event.walk("VALARM")
    assert ctx["fair"]["name"] in str(alarm["description"])


def test_email_parses_back_with_the_standard_library():
    r = rendered("invitation", "vi")
    delivery = SimpleNamespace(
        id="d-1",
        subject=r.subject,
        language="vi",
        body_text=r.text,
        body_html=r.html,
        attachments=[a.as_dict() for a in r.attachments],
    )
    raw = email_bytes(delivery, NAME, "htx@example.vn", "OCOP Xúc tiến thương mại <no-reply@ocop.local>")
    raw.decode("ascii")  # 7-bit on the wire: RFC 2047 words for Vietnamese headers, base64 parts
    assert b"\n" not in raw.replace(b"\r\n", b"") and max(len(line) for line in raw.split(b"\r\n")) <= 78
    head = raw.split(b"\r\n\r\n", 1)[0]
    subject_line = re.search(rb"^Subject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M).group(1).decode()
    assert "=?utf-8?" in subject_line.lower()
    assert str(make_header(decode_header(subject_line))) == r.subject
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == r.subject and msg["To"].addresses[0].display_name == NAME
    assert msg["From"].addresses[0].display_name == "OCOP Xúc tiến thương mại"
    assert msg["Message-ID"] == "<d-1@ocop.local>" and msg["Date"].datetime.tzinfo is not None
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_body(("plain",)).get_content() == r.text
    assert msg.get_body(("html",)).get_content() == r.html
    [att] = list(msg.iter_attachments())
    assert att.get_content_type() == "text/calendar" and att.get_param("method") == "PUBLISH"
    assert att.get_filename() == r.attachments[0].filename
    # MIME text travels with CRLF line ends and parses back to LF: the same calendar either way
    received = att.get_content()
    assert received.replace("\r\n", "\n") == r.attachments[0].content.replace("\r\n", "\n")
    summary = Calendar.from_ical(received).walk("VEVENT")[0]["summary"]
    assert str(summary) == sample_context("invitation")["fair"]["name"]


@pytest.mark.parametrize("extra", range(0, 90, 3))
def test_long_vietnamese_subjects_and_names_fold_without_losing_a_space(extra):
    """However a long subject folds, it decodes to exactly what was written (Python's own folding
    drops the space before an encoded word that starts a continuation line)."""
    words = "Hội chợ Trái cây Đồng bằng sông Cửu Long và đặc sản vùng miền toàn quốc lần thứ mười lăm năm 2025"
    subject = "Thư mời tham gia " + ("x" * extra) + " " + words
    name = "Hợp tác xã " + ("y" * (extra // 3) + " " if extra else "") + "Kẹo dừa Thanh Long Bến Tre"
    delivery = SimpleNamespace(
        id="d-2", subject=subject, language="vi", body_text="x\n", body_html=None, attachments=None
    )
    raw = email_bytes(delivery, name, "htx@example.vn", "OCOP <no-reply@ocop.local>")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78 and raw.decode("ascii")
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == subject
    [to] = msg["To"].addresses
    assert to.addr_spec == "htx@example.vn"
    assert_whole_name(raw, name)


def assert_whole_name(raw: bytes, name: str) -> None:
    """The ``To:`` name arrives whole, never cut: decoded as RFC 2047 says (the whitespace between
    encoded words dropped, as mail programs do) it is the name exactly; Python's parser, which keeps
    that whitespace, shows every word of it in order."""
    header = message_from_bytes(raw, policy=policy.compat32)["To"]
    assert str(make_header(decode_header(header))) == f"{name} <htx@example.vn>"
    [to] = message_from_bytes(raw, policy=policy.default)["To"].addresses
    assert " ".join(to.display_name.split()) == name and "…" not in to.display_name


@pytest.mark.parametrize(
    "name",
    [
        "Hợp tác xã Sản xuất Kinh doanh Dịch vụ Nông nghiệp Thạnh Phú Đông",  # cut at "Dịch" before
        "Hợp tác xã Sản xuất, Kinh doanh và Dịch vụ Tổng hợp Nông nghiệp Hữu cơ Giồng Trôm, Bến Tre",
        "Công ty TNHH Một thành viên Thương mại Dịch vụ Xuất nhập khẩu Kẹo dừa Bến Tre",
    ],
)
def test_a_long_producer_name_is_whole_in_the_to_header(name):
    delivery = SimpleNamespace(
        id="d-3", subject="Thư mời", language="vi", body_text="x\n", body_html=None, attachments=None
    )
    raw = email_bytes(delivery, name, "htx@example.vn", "OCOP <no-reply@ocop.local>")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert all(len(w) <= 75 for w in re.findall(rb"=\?utf-8\?b\?[^?]*\?=", raw))  # RFC 2047's limit per word
    assert_whole_name(raw, name)


@pytest.mark.parametrize("extra", range(0, 80, 7))
def test_calendar_lines_fold_at_75_octets_without_splitting_a_character(extra):
    from shared import ical

    value = "Hội chợ " + "ế" * extra + " Đồng bằng sông Cửu Long; a, b \\ c\nd" + "x" * (extra % 5)
    line = "SUMMARY:" + ical.text(value)
    folded = ical.fold(line)
    assert folded.endswith("\r\n") and all(len(part.encode()) <= 75 for part in folded[:-2].split("\r\n"))
    assert folded[:-2].replace("\r\n ", "") == line  # unfolding gives the line back, character for character
    cal = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20250101T000000Z\r\n"
        f"{folded}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert str(Calendar.from_ical(cal).walk("VEVENT")[0]["summary"]) == value
